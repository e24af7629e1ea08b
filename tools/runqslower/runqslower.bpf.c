/* runqslower: one record per run queue wait longer than a threshold: from the moment a task
 * becomes runnable (woken, new, or preempted) to its switch-in, with the task it replaced.
 *
 * The same three hooks as runqlat (sched_wakeup, sched_wakeup_new, sched_switch), each as raw_tp
 * or tp_btf; user space keeps one of each. -p/-t are applied where a wait begins, so only the
 * selected threads are ever timed; the threshold where it ends. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/events.bpf.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/runq.bpf.h>
#include <coretrace/task.bpf.h>
#include "runqslower.h"

char LICENSE[] SEC("license") = "GPL";

/* Report waits longer than this many microseconds (as libbpf-tools: strictly longer). */
const volatile __u64 min_us = 10000;

/* Waits that could not be timed because ct_runq_start was full: reported as lost. */
__u64 starts_dropped = 0;

static __always_inline void enqueue(struct task_struct* task, __u32 tid) {
    if (tid && ct_task_selected(task, tid) && ct_runq_begin(tid))
        __sync_fetch_and_add(&starts_dropped, 1);
}

static __always_inline int on_wakeup(struct task_struct* task) {
    enqueue(task, BPF_CORE_READ(task, pid));
    return 0;
}

static __always_inline int on_switch(void* ctx, bool preempt, struct task_struct* prev,
                                     struct task_struct* next) {
    __u32 prev_tid = BPF_CORE_READ(prev, pid);
    __u32 tid = BPF_CORE_READ(next, pid);
    struct runqslower_event* event;
    __u64 now, delta;

    /* prev, still runnable (preempted), waits from now on. */
    if (preempt || ct_task_state(prev) == 0)
        enqueue(prev, prev_tid);

    if (!ct_runq_end(tid, &now, &delta) || delta / 1000 <= min_us)
        return 0;

    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    event->ts_ns = now;
    event->latency_ns = delta;
    event->pid = BPF_CORE_READ(next, tgid);
    event->tid = tid;
    event->prev_tid = prev_tid;
    event->cpu = bpf_get_smp_processor_id();
    /* Both names are read into zeroed space: no stale bytes past a short name. */
    __builtin_memset(event->comm, 0, sizeof(event->comm));
    __builtin_memset(event->prev_comm, 0, sizeof(event->prev_comm));
    BPF_CORE_READ_STR_INTO(&event->comm, next, comm);
    BPF_CORE_READ_STR_INTO(&event->prev_comm, prev, comm);
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(runqslower_wakeup_raw, struct task_struct* task) {
    return on_wakeup(task);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(runqslower_wakeup_btf, struct task_struct* task) {
    return on_wakeup(task);
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(runqslower_new_raw, struct task_struct* task) {
    return on_wakeup(task);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(runqslower_new_btf, struct task_struct* task) {
    return on_wakeup(task);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(runqslower_switch_raw, bool preempt, struct task_struct* prev,
             struct task_struct* next) {
    return on_switch(ctx, preempt, prev, next);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(runqslower_switch_btf, bool preempt, struct task_struct* prev,
             struct task_struct* next) {
    return on_switch(ctx, preempt, prev, next);
}
