/* capable: the record the BPF side sends per capability check, and the switches both sides share.
 */
#ifndef CORETRACE_CAPABLE_H
#define CORETRACE_CAPABLE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CAPABLE_COMM_LEN 16

/* -u/--unique: report a capability once per process, or once per cgroup. */
enum capable_unique {
    CAPABLE_UNIQUE_OFF = 0,
    CAPABLE_UNIQUE_PID = 1,
    CAPABLE_UNIQUE_CGROUP = 2,
};

struct capable_event {
    __u64 ts_ns; /* bpf_ktime_get_ns() at the check (CLOCK_MONOTONIC) */
    __u32 pid;   /* tgid */
    __u32 tid;
    __u32 uid; /* real user ID of the current task */
    __s32 cap; /* CAP_* number */
    __s32 ret; /* 0: allowed, -EPERM: denied (commoncap's verdict, as cap_capable returns it) */
    __u32 pad;
    char comm[CAPABLE_COMM_LEN];
};

#endif
