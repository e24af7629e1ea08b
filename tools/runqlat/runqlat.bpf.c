/* runqlat: run queue (scheduler) latency, from the moment a task becomes runnable to the moment
 * it runs, as a log2 histogram for the system, per process, per thread or per PID namespace.
 *
 * A task becomes runnable when it is woken (sched_wakeup), when it is new (sched_wakeup_new),
 * or when it is switched out while still runnable, i.e. preempted (sched_switch, prev). It runs
 * when it is switched in (sched_switch, next). Each hook exists as raw_tp and tp_btf; user space
 * keeps one of each.
 *
 * -c CGROUP: the kernel can only test the *current* task's cgroup, and at a wakeup the current
 * task is the waker, not the task woken. So a thread's membership is learnt when it switches
 * out (then it is current) and kept in `cg_members`; a wakeup counts only a member. A new task
 * is tested through its parent, the current task at sched_wakeup_new. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/log2.bpf.h>
#include <coretrace/runq.bpf.h>
#include <coretrace/task.bpf.h>
#include "runqlat.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool targ_per_process = false;
const volatile bool targ_per_thread = false;
const volatile bool targ_per_pidns = false;
const volatile bool targ_ms = false;

/* -c only: thread ids last seen inside the cgroup. Sized to pid_max with -c, else 1. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, __u32);
    __type(value, __u8);
} cg_members SEC(".maps");

/* Histogram key (tgid, tid, PID namespace inode or RUNQLAT_ALL_KEY) -> histogram. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, __u32);
    __type(value, struct runqlat_hist);
} hists SEC(".maps");

static struct runqlat_hist empty_hist;

/* `task` became runnable at `now`; `in_cgroup` says whether it passes -c. */
static __always_inline void enqueue(struct task_struct* task, __u32 tid, bool in_cgroup) {
    if (tid && in_cgroup && ct_task_selected(task, tid))
        ct_runq_begin(tid);
}

static __always_inline int on_wakeup(struct task_struct* task) {
    __u32 tid = BPF_CORE_READ(task, pid);
    bool in_cgroup = !ct_filter_cgroup || bpf_map_lookup_elem(&cg_members, &tid);

    enqueue(task, tid, in_cgroup);
    return 0;
}

static __always_inline int on_wakeup_new(struct task_struct* task) {
    /* The current task is the parent, whose cgroup a new task starts in. */
    enqueue(task, BPF_CORE_READ(task, pid), ct_current_cgroup_selected());
    return 0;
}

static __always_inline __u32 hist_key(struct task_struct* task, __u32 tid) {
    if (targ_per_process)
        return BPF_CORE_READ(task, tgid);
    if (targ_per_thread)
        return tid;
    if (targ_per_pidns)
        return BPF_CORE_READ(task, nsproxy, pid_ns_for_children, ns.inum);
    return RUNQLAT_ALL_KEY;
}

static __always_inline int on_switch(bool preempt, struct task_struct* prev,
                                     struct task_struct* next) {
    __u32 prev_tid = BPF_CORE_READ(prev, pid);
    __u32 tid = BPF_CORE_READ(next, pid);
    bool in_cgroup = true;
    struct runqlat_hist* hist;
    __u64 now, delta;
    __u32 key;
    long state;

    /* prev: still runnable (preempted) means it waits in the run queue from now on. */
    state = ct_task_state(prev);
    if (ct_filter_cgroup && prev_tid) {
        in_cgroup = ct_current_cgroup_selected();
        if (in_cgroup && !(state & CT_TASK_DEAD)) {
            __u8 one = 1;
            bpf_map_update_elem(&cg_members, &prev_tid, &one, BPF_ANY);
        } else {
            bpf_map_delete_elem(&cg_members, &prev_tid);
        }
    }
    if (preempt || state == 0)
        enqueue(prev, prev_tid, in_cgroup);

    /* next: its wait ends now. */
    if (!ct_runq_end(tid, &now, &delta))
        return 0;

    key = hist_key(next, tid);
    hist = bpf_map_lookup_elem(&hists, &key);
    if (!hist) {
        bpf_map_update_elem(&hists, &key, &empty_hist, BPF_NOEXIST);
        hist = bpf_map_lookup_elem(&hists, &key);
        if (!hist)
            return 0;
    }
    /* The name as of the latest switch-in counted: a thread renamed after it started (as most
     * worker threads are) shows its new name, not its creator's. */
    if (key != RUNQLAT_ALL_KEY)
        BPF_CORE_READ_STR_INTO(&hist->comm, next, comm);
    delta /= targ_ms ? 1000000 : 1000;
    __sync_fetch_and_add(&hist->slots[ct_log2_slot(delta, RUNQLAT_MAX_SLOTS)], 1);
    return 0;
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(runqlat_wakeup_raw, struct task_struct* task) {
    return on_wakeup(task);
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(runqlat_wakeup_btf, struct task_struct* task) {
    return on_wakeup(task);
}

SEC("raw_tp/sched_wakeup_new")
int BPF_PROG(runqlat_new_raw, struct task_struct* task) {
    return on_wakeup_new(task);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(runqlat_new_btf, struct task_struct* task) {
    return on_wakeup_new(task);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(runqlat_switch_raw, bool preempt, struct task_struct* prev, struct task_struct* next) {
    return on_switch(preempt, prev, next);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(runqlat_switch_btf, bool preempt, struct task_struct* prev, struct task_struct* next) {
    return on_switch(preempt, prev, next);
}
