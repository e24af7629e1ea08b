/* usdt: the record the BPF side sends per firing of the traced USDT probe: its arguments as
 * integers, and as strings those user space asked for (--str N). */
#ifndef CORETRACE_USDT_H
#define CORETRACE_USDT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define USDT_COMM_LEN 16
/* libbpf's limit (BPF_USDT_MAX_ARG_CNT). */
#define USDT_MAX_ARGS 12
/* Bytes kept of an argument read as a string, NUL included. */
#define USDT_STR_LEN 64

struct usdt_event {
    __u64 ts_ns;  /* bpf_ktime_get_ns() at the firing (CLOCK_MONOTONIC) */
    __u64 cookie; /* which attached file (an index into user space's list) */
    __s64 args[USDT_MAX_ARGS];
    __u32 pid; /* tgid */
    __u32 tid;
    __u32 nargs;         /* arguments the probe has */
    __u32 str_truncated; /* bit i: string i was longer than USDT_STR_LEN - 1 bytes */
    __u32 str_failed;    /* bit i: string i could not be read */
    __u32 pad;
    char comm[USDT_COMM_LEN];
    char strs[USDT_MAX_ARGS][USDT_STR_LEN]; /* only for arguments asked for as strings */
};

#endif
