/* bashreadline: the record the BPF side sends per line bash's readline() returns. */
#ifndef CORETRACE_BASHREADLINE_H
#define CORETRACE_BASHREADLINE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define BASHREADLINE_COMM_LEN 16
/* Bytes of the line kept, NUL included: a longer line is cut at 255 bytes and flagged. */
#define BASHREADLINE_LINE_LEN 256

struct bashreadline_event {
    __u64 ts_ns; /* bpf_ktime_get_ns() at readline()'s return (CLOCK_MONOTONIC) */
    __u32 pid;   /* tgid */
    __u32 uid;
    __u32 truncated; /* 1 when the line was longer than BASHREADLINE_LINE_LEN - 1 bytes */
    __u32 pad;
    char comm[BASHREADLINE_COMM_LEN];
    char line[BASHREADLINE_LINE_LEN]; /* NUL-terminated */
};

#endif
