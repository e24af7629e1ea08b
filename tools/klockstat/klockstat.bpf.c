/* klockstat: kernel lock contention from lock:contention_begin and lock:contention_end (Linux
 * 5.19+), which mark the slow path of mutexes, rwsems, spinlocks, rwlocks and more. The time
 * between the two is the wait; hold times are not seen (they need kprobes on every lock and
 * unlock function, as libbpf-tools uses).
 *
 * A wait starts per (thread, lock): a thread waiting on a mutex can meet a contended spinlock
 * inside it, and a mutex may report its begin twice (spinning, then sleeping): the first begin
 * is kept. -p, -t and -L are applied here. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <coretrace/filter.bpf.h>
#include "klockstat.h"

char LICENSE[] SEC("license") = "GPL";

/* -L: only this lock address (0: any). -P: statistics per thread. */
const volatile __u64 targ_lock = 0;
const volatile bool per_thread = false;

struct wait_key {
    __u64 lock;
    __u32 tid;
    __u32 pad;
};

struct wait_start {
    __u64 ts;
    __u32 flags;
    __u32 pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct wait_key);
    __type(value, struct wait_start);
} waits SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct klockstat_key);
    __type(value, struct klockstat_stat);
} stats SEC(".maps");

/* Waits not measured: `waits` or `stats` was full. */
__u64 dropped = 0;

static __always_inline int on_begin(__u64 lock, __u32 flags) {
    __u64 id = bpf_get_current_pid_tgid();
    struct wait_key key = {.lock = lock, .tid = (__u32)id};
    struct wait_start start = {.flags = flags};

    if (targ_lock && lock != targ_lock)
        return 0;
    if (!ct_pid_selected(id >> 32, (__u32)id))
        return 0;
    start.ts = bpf_ktime_get_ns();
    /* An existing entry is this thread's earlier begin on the same lock: keep it. */
    if (bpf_map_update_elem(&waits, &key, &start, BPF_NOEXIST) &&
        !bpf_map_lookup_elem(&waits, &key))
        __sync_fetch_and_add(&dropped, 1);
    return 0;
}

static __always_inline int on_end(__u64 lock) {
    static const struct klockstat_stat zero = {};
    __u64 id = bpf_get_current_pid_tgid();
    struct wait_key key = {.lock = lock, .tid = (__u32)id};
    struct klockstat_key stat_key = {};
    struct klockstat_stat* stat;
    struct wait_start* start;
    __u64 delta;
    __u32 flags;

    start = bpf_map_lookup_elem(&waits, &key);
    if (!start)
        return 0;
    delta = bpf_ktime_get_ns() - start->ts;
    flags = start->flags;
    bpf_map_delete_elem(&waits, &key);

    if (per_thread)
        stat_key.tid = (__u32)id;
    else
        stat_key.lock = lock;
    stat = bpf_map_lookup_elem(&stats, &stat_key);
    if (!stat) {
        bpf_map_update_elem(&stats, &stat_key, &zero, BPF_NOEXIST);
        stat = bpf_map_lookup_elem(&stats, &stat_key);
        if (!stat) {
            __sync_fetch_and_add(&dropped, 1);
            return 0;
        }
    }
    __sync_fetch_and_add(&stat->count, 1);
    __sync_fetch_and_add(&stat->total_ns, delta);
    stat->flags |= flags;       /* the same kind of lock each time: no race that matters */
    if (delta > stat->max_ns) { /* racy between CPUs, as libbpf-tools: a near-tie may be lost */
        stat->max_ns = delta;
        stat->max_pid = id >> 32;
        stat->max_tid = (__u32)id;
        bpf_get_current_comm(stat->max_comm, sizeof(stat->max_comm));
    }
    return 0;
}

/* TP_PROTO(void *lock, unsigned int flags) */
SEC("raw_tp/contention_begin")
int begin_raw(struct bpf_raw_tracepoint_args* ctx) {
    return on_begin(ctx->args[0], (__u32)ctx->args[1]);
}

/* TP_PROTO(void *lock, int ret) */
SEC("raw_tp/contention_end")
int end_raw(struct bpf_raw_tracepoint_args* ctx) {
    return on_end(ctx->args[0]);
}

SEC("tp/lock/contention_begin")
int begin_tp(struct trace_event_raw_contention_begin* ctx) {
    return on_begin((__u64)ctx->lock_addr, ctx->flags);
}

SEC("tp/lock/contention_end")
int end_tp(struct trace_event_raw_contention_end* ctx) {
    return on_end((__u64)ctx->lock_addr);
}
