/* The run queue wait of each thread, for the scheduler tools (runqlat, runqslower): it begins
 * when the thread becomes runnable (sched_wakeup, sched_wakeup_new, or switched out while still
 * runnable, i.e. preempted) and ends when it is switched in. User space sizes ct_runq_start to
 * pid_max. */
#ifndef CORETRACE_RUNQ_BPF_H
#define CORETRACE_RUNQ_BPF_H

#include <bpf/bpf_helpers.h>

/* Thread id -> when it became runnable (0: not waiting). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, __u32);
    __type(value, __u64);
} ct_runq_start SEC(".maps");

/* Thread `tid` waits from now. Returns 0, or an error when ct_runq_start is full. */
static __always_inline long ct_runq_begin(__u32 tid) {
    __u64 now = bpf_ktime_get_ns();

    return bpf_map_update_elem(&ct_runq_start, &tid, &now, BPF_ANY);
}

/* Thread `tid` is switched in: true when its wait was timed, with the time in *now and the wait
 * in *waited (ns). A start is used once (cleared in place, cheaper than a delete on this hot
 * path): a missed wakeup never turns into a made-up latency, nor does a recycled tid inherit it. */
static __always_inline bool ct_runq_end(__u32 tid, __u64* now, __u64* waited) {
    __u64* began;

    if (tid == 0)
        return false;
    began = bpf_map_lookup_elem(&ct_runq_start, &tid);
    if (!began || *began == 0)
        return false;
    *now = bpf_ktime_get_ns();
    *waited = *now > *began ? *now - *began : 0;
    *began = 0;
    return true;
}

#endif
