/* cpudist: on-CPU (or, with -O, off-CPU) time per scheduling slice as a log2 histogram, per
 * system, process or thread. One hook, sched_switch, as tp_btf or raw_tp (the user side picks).
 *
 * On-CPU: a slice starts when a task is switched in and ends when it is switched out, whatever
 * its state then: counting only tasks that leave still runnable (as libbpf-tools does) loses
 * every slice that ends in blocking. Off-CPU: from switch-out to the next switch-in. The idle
 * task (pid 0) is left out. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/log2.bpf.h>
#include <coretrace/task.bpf.h>
#include "cpudist.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool targ_offcpu = false;
const volatile bool targ_per_process = false;
const volatile bool targ_per_thread = false;
const volatile bool targ_ms = false;

/* Thread id -> when its current slice (on or off CPU) began. Sized to pid_max by user space. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, __u32);
    __type(value, __u64);
} start SEC(".maps");

/* Histogram key (tgid, tid or CPUDIST_ALL_KEY) -> histogram. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __type(key, __u32);
    __type(value, struct cpudist_hist);
} hists SEC(".maps");

static struct cpudist_hist empty_hist;

/* Each CO-RE read is a helper call on the hot path: tgid is read only when -p or -P needs it. */
static __always_inline void begin_slice(struct task_struct* task, __u64 now) {
    __u32 tid = BPF_CORE_READ(task, pid);
    __u32 tgid = ct_targ_tgid ? BPF_CORE_READ(task, tgid) : 0;

    if (tid == 0 || !ct_pid_selected(tgid, tid))
        return;
    bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
}

static __always_inline void end_slice(struct task_struct* task, __u64 now) {
    __u32 tid = BPF_CORE_READ(task, pid);
    struct cpudist_hist* hist;
    __u64 *began, delta;
    __u32 key;

    if (tid == 0)
        return;
    began = bpf_map_lookup_elem(&start, &tid);
    if (!began || *began == 0 || now < *began)
        return;
    delta = now - *began;
    /* A start is used once. Should the event that begins the next slice be missed (the
     * kernel skips a BPF program that would recurse on a CPU), no slice is made up from a
     * stale start; a recycled tid cannot inherit one either. Cleared in place: cheaper than
     * a delete on this hot path. */
    *began = 0;

    key = targ_per_process ? BPF_CORE_READ(task, tgid) : targ_per_thread ? tid : CPUDIST_ALL_KEY;
    hist = bpf_map_lookup_elem(&hists, &key);
    if (!hist) {
        bpf_map_update_elem(&hists, &key, &empty_hist, BPF_NOEXIST);
        hist = bpf_map_lookup_elem(&hists, &key);
        if (!hist)
            return;
        BPF_CORE_READ_STR_INTO(&hist->comm, task, comm);
    }
    delta /= targ_ms ? 1000000 : 1000;
    __sync_fetch_and_add(&hist->slots[ct_log2_slot(delta, CPUDIST_MAX_SLOTS)], 1);
}

/* Only the task leaving the CPU is "current", so the cgroup filter is applied to it: on-CPU
 * slices are recorded as they end (prev), off-CPU slices are started as they begin (prev). */
static __always_inline int on_switch(struct task_struct* prev, struct task_struct* next) {
    __u64 now = bpf_ktime_get_ns();

    if (targ_offcpu) {
        /* A task switched out for the last time (exiting) never comes back: no slice. */
        if (!(ct_task_state(prev) & CT_TASK_DEAD) && ct_current_cgroup_selected())
            begin_slice(prev, now);
        end_slice(next, now);
    } else {
        if (ct_current_cgroup_selected())
            end_slice(prev, now);
        begin_slice(next, now);
    }
    return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(cpudist_btf, bool preempt, struct task_struct* prev, struct task_struct* next) {
    return on_switch(prev, next);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(cpudist_raw, bool preempt, struct task_struct* prev, struct task_struct* next) {
    return on_switch(prev, next);
}
