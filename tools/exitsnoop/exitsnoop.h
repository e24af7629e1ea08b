/* exitsnoop: the record the BPF side sends per process (or, with -T, thread) exit. */
#ifndef CORETRACE_EXITSNOOP_H
#define CORETRACE_EXITSNOOP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define EXITSNOOP_COMM_LEN 16

struct exitsnoop_event {
    __u64 start_ns; /* task->start_time: CLOCK_MONOTONIC at fork */
    __u64 exit_ns;  /* bpf_ktime_get_ns() at the exit (CLOCK_MONOTONIC) */
    __u32 pid;      /* tgid */
    __u32 tid;
    __u32 ppid;      /* tgid of the real parent */
    __u32 exit_code; /* the status as wait(2) sees it: code << 8 | core dump 0x80 | signal */
    char comm[EXITSNOOP_COMM_LEN];
};

#endif
