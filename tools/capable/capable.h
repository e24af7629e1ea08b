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

/* cap_capable()'s options (include/linux/security.h), seen only by the function hook. */
#define CAPABLE_OPT_NOAUDIT (1u << 1)
#define CAPABLE_OPT_INSETID (1u << 2)
#define CAPABLE_OPTS_UNKNOWN 0xffffffffu

struct capable_event {
    __u64 ts_ns; /* bpf_ktime_get_ns() at the check (CLOCK_MONOTONIC) */
    __u32 pid;   /* tgid */
    __u32 tid;
    __u32 uid;  /* real user ID of the current task */
    __s32 cap;  /* CAP_* number */
    __s32 ret;  /* 0: allowed, -EPERM: denied (commoncap's verdict, as cap_capable returns it) */
    __u32 opts; /* cap_capable()'s CAP_OPT_* bits, or CAPABLE_OPTS_UNKNOWN (tracepoint path) */
    __s32 kern_stack_id; /* -K: in ct_stacks; negative: not asked for or lost */
    __s32 user_stack_id; /* -U: likewise */
    char comm[CAPABLE_COMM_LEN];
};

#endif
