/* drsnoop: one record per reclaim a task does itself, with its latency and the pages it got
 * back.
 *
 * vmscan:mm_vmscan_direct_reclaim_begin / _end surround the allocator's direct reclaim (the
 * system ran short of free memory); with --memcg, vmscan:mm_vmscan_memcg_reclaim_begin / _end
 * surround the reclaim a task does when its memory cgroup reaches its limit, which never goes
 * through direct reclaim. The begin program applies the filters (-p, -t, -c) and keeps the time
 * under (kind, thread); the end program takes it back and sends one record. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/events.bpf.h>
#include "drsnoop.h"

char LICENSE[] SEC("license") = "GPL";

/* -e: kernel address of vm_zone_stat, from /proc/kallsyms (0: not listed there). */
const volatile __u64 vm_zone_stat_addr = 0;

struct reclaim_start {
    __u64 ts;
    __u64 nr_free_pages;
    __u64 gfp_flags;
    __s32 order;
    __u32 pad;
};

/* (kind << 32 | thread ID) -> the reclaim it is in. Sized by user space. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8192);
    __type(key, __u64);
    __type(value, struct reclaim_start);
} start SEC(".maps");

/* Reclaims that could not be followed because `start` was full: counted as lost. */
__u64 starts_dropped = 0;

static __always_inline int on_begin(__u32 kind, int order, __u64 gfp_flags) {
    struct reclaim_start begin = {};
    __u64 id = bpf_get_current_pid_tgid();
    __u64 key = ((__u64)kind << 32) | (__u32)id;

    if (!ct_current_selected())
        return 0;
    begin.ts = bpf_ktime_get_ns();
    begin.order = order;
    begin.gfp_flags = gfp_flags;
    if (vm_zone_stat_addr) {
        const long* stats = (const long*)(unsigned long)vm_zone_stat_addr;
        long free = 0;

        bpf_probe_read_kernel(&free, sizeof(free),
                              &stats[bpf_core_enum_value(enum zone_stat_item, NR_FREE_PAGES)]);
        begin.nr_free_pages = free > 0 ? free : 0;
    }
    if (bpf_map_update_elem(&start, &key, &begin, BPF_ANY))
        __sync_fetch_and_add(&starts_dropped, 1);
    return 0;
}

static __always_inline int on_end(void* ctx, __u32 kind, __u64 nr_reclaimed) {
    __u64 id = bpf_get_current_pid_tgid();
    __u64 key = ((__u64)kind << 32) | (__u32)id;
    struct drsnoop_event* event;
    struct reclaim_start* stored;
    struct reclaim_start begin;
    __u64 now = bpf_ktime_get_ns();

    stored = bpf_map_lookup_elem(&start, &key);
    if (!stored)
        return 0; /* began before we attached, or filtered out */
    begin = *stored;
    bpf_map_delete_elem(&start, &key);
    if (now < begin.ts)
        return 0;

    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    event->ts_ns = now;
    event->delta_ns = now - begin.ts;
    event->nr_reclaimed = nr_reclaimed;
    event->nr_free_pages = begin.nr_free_pages;
    event->gfp_flags = begin.gfp_flags;
    event->pid = id >> 32;
    event->tid = (__u32)id;
    event->order = begin.order;
    event->kind = kind;
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}

/* The begin and end programs of one reclaim event (direct or memcg), raw_tp, tp_btf and classic
 * tracepoint; user space keeps one of each. `b` and `e` name them (drsnoop_<b>_raw, ...). Both
 * events' classic tracepoints use the direct reclaim's record layout (a shared template). */
#define RECLAIM_PROGRAMS(event, kind, b, e)                                                        \
    SEC("raw_tp/mm_vmscan_" #event "_reclaim_begin")                                               \
    int BPF_PROG(drsnoop_##b##_raw, int order, gfp_t gfp_flags) {                                  \
        return on_begin(kind, order, gfp_flags);                                                   \
    }                                                                                              \
    SEC("raw_tp/mm_vmscan_" #event "_reclaim_end")                                                 \
    int BPF_PROG(drsnoop_##e##_raw, unsigned long nr_reclaimed) {                                  \
        return on_end(ctx, kind, nr_reclaimed);                                                    \
    }                                                                                              \
    SEC("tp_btf/mm_vmscan_" #event "_reclaim_begin")                                               \
    int BPF_PROG(drsnoop_##b##_btf, int order, gfp_t gfp_flags) {                                  \
        return on_begin(kind, order, gfp_flags);                                                   \
    }                                                                                              \
    SEC("tp_btf/mm_vmscan_" #event "_reclaim_end")                                                 \
    int BPF_PROG(drsnoop_##e##_btf, unsigned long nr_reclaimed) {                                  \
        return on_end(ctx, kind, nr_reclaimed);                                                    \
    }                                                                                              \
    SEC("tp/vmscan/mm_vmscan_" #event "_reclaim_begin")                                            \
    int drsnoop_##b##_tp(struct trace_event_raw_mm_vmscan_direct_reclaim_begin_template* ctx) {    \
        return on_begin(kind, ctx->order, ctx->gfp_flags);                                         \
    }                                                                                              \
    SEC("tp/vmscan/mm_vmscan_" #event "_reclaim_end")                                              \
    int drsnoop_##e##_tp(struct trace_event_raw_mm_vmscan_direct_reclaim_end_template* ctx) {      \
        return on_end(ctx, kind, ctx->nr_reclaimed);                                               \
    }

RECLAIM_PROGRAMS(direct, DRSNOOP_DIRECT, begin, end)
RECLAIM_PROGRAMS(memcg, DRSNOOP_MEMCG, mbegin, mend)
