/* runqslower: the record the BPF side sends for each run queue wait above the threshold. */
#ifndef CORETRACE_RUNQSLOWER_H
#define CORETRACE_RUNQSLOWER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define RUNQSLOWER_COMM_LEN 16

struct runqslower_event {
    __u64 ts_ns;      /* bpf_ktime_get_ns() at the switch-in that ended the wait */
    __u64 latency_ns; /* how long the task waited, runnable, for a CPU */
    __u32 pid;        /* tgid of the task that waited */
    __u32 tid;
    __u32 prev_tid; /* the task it replaced on the CPU */
    __u32 cpu;
    char comm[RUNQSLOWER_COMM_LEN];
    char prev_comm[RUNQSLOWER_COMM_LEN];
};

#endif
