/* klockstat: the keys and statistics of kernel lock contention that both sides share. */
#ifndef CORETRACE_KLOCKSTAT_H
#define CORETRACE_KLOCKSTAT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define KLOCKSTAT_COMM_LEN 16

/* Flags of lock:contention_begin (include/trace/events/lock.h: LCB_F_*). */
#define KLOCKSTAT_F_SPIN (1U << 0)
#define KLOCKSTAT_F_READ (1U << 1)
#define KLOCKSTAT_F_WRITE (1U << 2)
#define KLOCKSTAT_F_RT (1U << 3)
#define KLOCKSTAT_F_PERCPU (1U << 4)
#define KLOCKSTAT_F_MUTEX (1U << 5)

/* What statistics are kept per: a lock (its address), or with -P a thread. */
struct klockstat_key {
    __u64 lock; /* lock address; 0 with -P */
    __u32 tid;  /* thread ID with -P; 0 otherwise */
    __u32 pad;
};

struct klockstat_stat {
    __u64 count;    /* contentions that ended */
    __u64 total_ns; /* summed wait, contention_begin to contention_end */
    __u64 max_ns;
    __u32 max_pid; /* the task that waited longest (tgid, tid) */
    __u32 max_tid;
    __u32 flags; /* LCB_F_* seen for this lock, or-ed */
    __u32 pad;
    char max_comm[KLOCKSTAT_COMM_LEN];
};

#endif
