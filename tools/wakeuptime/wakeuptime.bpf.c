/* wakeuptime: the time threads spent blocked, by who woke them. A thread switched out while not
 * runnable starts a block (sched_switch); when it is woken (sched_wakeup), the time it was
 * blocked (within -m/-M) is added to the (waker's name and kernel stack, target's name) entry,
 * in microseconds. The waker is the task running at the wakeup: for a wakeup from an interrupt,
 * whatever that interrupted (often the idle task, "swapper/N"). raw_tp or tp_btf, as the kernel
 * allows. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/stacks.bpf.h>
#include <coretrace/task.bpf.h>
#include "wakeuptime.h"

char LICENSE[] SEC("license") = "GPL";

#define PF_KTHREAD 0x00200000

const volatile bool user_threads_only = false;
const volatile __u64 min_block_ns = 1000;
const volatile __u64 max_block_ns = (__u64)-1;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, __u64);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024); /* set to --stack-storage-size */
    __type(key, struct wakeuptime_key);
    __type(value, __u64);
} totals SEC(".maps");

__u64 starts_dropped = 0;
__u64 totals_dropped = 0;

static __always_inline void block_begins(struct task_struct* prev) {
    __u32 tid = BPF_CORE_READ(prev, pid), tgid = BPF_CORE_READ(prev, tgid);
    __u64 now;

    /* Still runnable (preempted) is not blocked; a dying thread is never woken. */
    if (tid == 0 || ct_task_state(prev) == 0 || (ct_task_state(prev) & CT_TASK_DEAD))
        return;
    if (!ct_pid_selected(tgid, tid) || !ct_current_cgroup_selected())
        return;
    if (user_threads_only && (BPF_CORE_READ(prev, flags) & PF_KTHREAD))
        return;
    now = bpf_ktime_get_ns();
    if (bpf_map_update_elem(&start, &tid, &now, BPF_ANY) != 0)
        __sync_fetch_and_add(&starts_dropped, 1);
}

static __always_inline void woken(void* ctx, struct task_struct* p) {
    __u32 tid = BPF_CORE_READ(p, pid);
    struct wakeuptime_key key = {};
    __u64 *since, delta, *total, zero = 0;

    since = bpf_map_lookup_elem(&start, &tid);
    if (!since)
        return;
    delta = bpf_ktime_get_ns() - *since;
    bpf_map_delete_elem(&start, &tid);
    if (delta < min_block_ns || delta > max_block_ns)
        return;
    bpf_get_current_comm(key.waker, sizeof(key.waker));
    BPF_CORE_READ_STR_INTO(&key.target, p, comm);
    key.waker_stack_id = ct_stack_id(ctx, false);
    key.waker_tgid = bpf_get_current_pid_tgid() >> 32;
    total = bpf_map_lookup_elem(&totals, &key);
    if (!total) {
        bpf_map_update_elem(&totals, &key, &zero, BPF_NOEXIST);
        total = bpf_map_lookup_elem(&totals, &key);
    }
    if (total)
        __sync_fetch_and_add(total, delta / 1000);
    else
        __sync_fetch_and_add(&totals_dropped, 1);
}

SEC("raw_tp/sched_switch")
int BPF_PROG(wakeuptime_switch_raw, bool preempt, struct task_struct* prev,
             struct task_struct* next) {
    block_begins(prev);
    return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(wakeuptime_switch_btf, bool preempt, struct task_struct* prev,
             struct task_struct* next) {
    block_begins(prev);
    return 0;
}

SEC("raw_tp/sched_wakeup")
int BPF_PROG(wakeuptime_wakeup_raw, struct task_struct* p) {
    woken(ctx, p);
    return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(wakeuptime_wakeup_btf, struct task_struct* p) {
    woken(ctx, p);
    return 0;
}
