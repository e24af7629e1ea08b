/* offcputime: off-CPU time by stack. At sched_switch the thread leaving the CPU is still
 * "current": its user and kernel stacks are taken there, with the time. When the thread is
 * switched back in, the time it spent off the CPU (within -m/-M) is added to its (thread,
 * stacks) entry, in microseconds. One hook, sched_switch, as raw_tp or tp_btf (user space
 * picks). libbpf-tools takes the same two moments (from a kprobe on finish_task_switch or the
 * same tracepoint). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/events.bpf.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/stacks.bpf.h>
#include <coretrace/task.bpf.h>
#include "offcputime.h"

char LICENSE[] SEC("license") = "GPL";

#define PF_KTHREAD 0x00200000

const volatile bool user_threads_only = false;
const volatile bool kernel_threads_only = false;
const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;
const volatile __u64 min_block_ns = 1000;
const volatile __u64 max_block_ns = (__u64)-1;
const volatile long targ_state = -1;

struct blocked {
    __u64 since;
    struct offcputime_key key;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct blocked);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024); /* set to --stack-storage-size */
    __type(key, struct offcputime_key);
    __type(value, __u64);
} totals SEC(".maps");

/* Blocks not followed (the start table was full) and not counted (the totals were full). */
__u64 starts_dropped = 0;
__u64 totals_dropped = 0;

/* Scratch for a start: a key with its comm is too big to build on the BPF stack with the rest. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct blocked);
} scratch SEC(".maps");

static __always_inline bool wanted(struct task_struct* task, __u32 tgid, __u32 tid) {
    unsigned int flags;

    if (tid == 0 || !ct_pid_selected(tgid, tid))
        return false;
    if (user_threads_only || kernel_threads_only) {
        flags = BPF_CORE_READ(task, flags);
        if (user_threads_only && (flags & PF_KTHREAD))
            return false;
        if (kernel_threads_only && !(flags & PF_KTHREAD))
            return false;
    }
    if (targ_state != -1 && ct_task_state(task) != targ_state)
        return false;
    return ct_current_cgroup_selected();
}

static __always_inline void block_begins(void* ctx, struct task_struct* prev, __u64 now) {
    __u32 tid = BPF_CORE_READ(prev, pid), tgid = BPF_CORE_READ(prev, tgid), zero = 0;
    struct blocked* b;

    if (!wanted(prev, tgid, tid) || (ct_task_state(prev) & CT_TASK_DEAD))
        return;
    b = bpf_map_lookup_elem(&scratch, &zero);
    if (!b)
        return;
    b->since = now;
    b->key.tid = tid;
    b->key.tgid = tgid;
    b->key.user_stack_id = user_stacks ? ct_stack_id(ctx, true) : -1;
    b->key.kern_stack_id = kernel_stacks ? ct_stack_id(ctx, false) : -1;
    bpf_get_current_comm(b->key.comm, sizeof(b->key.comm));
    ct_note_process(ctx, tgid);
    if (bpf_map_update_elem(&start, &tid, b, BPF_ANY) != 0)
        __sync_fetch_and_add(&starts_dropped, 1);
}

static __always_inline void block_ends(struct task_struct* next, __u64 now) {
    __u32 tid = BPF_CORE_READ(next, pid);
    struct blocked* b;
    __u64 delta, *total, zero = 0;

    b = bpf_map_lookup_elem(&start, &tid);
    if (!b)
        return;
    delta = now - b->since;
    if (now > b->since && delta >= min_block_ns && delta <= max_block_ns) {
        total = bpf_map_lookup_elem(&totals, &b->key);
        if (!total) {
            bpf_map_update_elem(&totals, &b->key, &zero, BPF_NOEXIST);
            total = bpf_map_lookup_elem(&totals, &b->key);
        }
        if (total)
            __sync_fetch_and_add(total, delta / 1000);
        else
            __sync_fetch_and_add(&totals_dropped, 1);
    }
    bpf_map_delete_elem(&start, &tid);
}

static __always_inline int on_switch(void* ctx, struct task_struct* prev,
                                     struct task_struct* next) {
    __u64 now = bpf_ktime_get_ns();

    block_begins(ctx, prev, now);
    block_ends(next, now);
    return 0;
}

SEC("raw_tp/sched_switch")
int BPF_PROG(offcputime_raw, bool preempt, struct task_struct* prev, struct task_struct* next) {
    return on_switch(ctx, prev, next);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(offcputime_btf, bool preempt, struct task_struct* prev, struct task_struct* next) {
    return on_switch(ctx, prev, next);
}
