/* drsnoop: the record the BPF side sends per reclaim (begin to end) and what both sides share. */
#ifndef CORETRACE_DRSNOOP_H
#define CORETRACE_DRSNOOP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define DRSNOOP_COMM_LEN 16

/* Which reclaim a record is: the allocator's direct reclaim, or reclaim inside a memory
 * cgroup that reached its limit (--memcg). */
enum drsnoop_kind {
    DRSNOOP_DIRECT = 0,
    DRSNOOP_MEMCG = 1,
};

struct drsnoop_event {
    __u64 ts_ns;         /* bpf_ktime_get_ns() at the end of the reclaim (CLOCK_MONOTONIC) */
    __u64 delta_ns;      /* from begin to end */
    __u64 nr_reclaimed;  /* pages reclaimed */
    __u64 nr_free_pages; /* -e: free pages of the system at begin (0: not read in the kernel) */
    __u64 gfp_flags;     /* of the allocation that needed the reclaim */
    __u32 pid;           /* tgid */
    __u32 tid;
    __s32 order; /* of that allocation (pages = 2^order) */
    __u32 kind;  /* enum drsnoop_kind */
    char comm[DRSNOOP_COMM_LEN];
};

#endif
