/* uprobe: the record the BPF side sends per call of the traced user-space function (at its entry,
 * or with --ret at its return, carrying the entry's arguments too). */
#ifndef CORETRACE_UPROBE_H
#define CORETRACE_UPROBE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define UPROBE_COMM_LEN 16
/* Integer arguments read at entry: the six that x86-64 passes in registers. */
#define UPROBE_MAX_ARGS 6

enum uprobe_kind {
    UPROBE_ENTRY = 0,  /* a uprobe fired: args are the call's */
    UPROBE_RETURN = 1, /* a uretprobe fired: args from the entry, ret and latency_ns set */
};

struct uprobe_event {
    __u64 ts_ns;      /* bpf_ktime_get_ns() when the record was made (CLOCK_MONOTONIC) */
    __u64 latency_ns; /* UPROBE_RETURN: time from entry to return */
    __u64 args[UPROBE_MAX_ARGS];
    __s64 ret; /* UPROBE_RETURN: the return value register (rax) */
    __u32 pid; /* tgid */
    __u32 tid;
    __u32 kind;      /* enum uprobe_kind */
    __u32 has_entry; /* UPROBE_RETURN: 1 when the entry was seen (args, latency valid) */
    char comm[UPROBE_COMM_LEN];
};

#endif
