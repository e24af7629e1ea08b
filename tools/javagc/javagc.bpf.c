/* javagc: the time each garbage collection of a HotSpot JVM takes, from its USDT probes
 * hotspot:gc__begin (argument: whether the collection is full) and hotspot:gc__end in
 * libjvm.so. The begin probe stores the time per thread; the end probe, in the same thread,
 * takes it back and sends one record when the collection lasted at least the threshold. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>
#include <coretrace/events.bpf.h>
#include "javagc.h"

char LICENSE[] SEC("license") = "GPL";

/* -t: only collections lasting at least this many nanoseconds. */
const volatile __u64 targ_min_ns = 0;

struct gc_start {
    __u64 ts_ns;
    __u32 full;
    __u32 pad;
};

/* Thread ID -> the collection it is in. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, struct gc_start);
} starts SEC(".maps");

/* Collections not followed because `starts` was full: counted as lost. */
__u64 starts_dropped = 0;

SEC("usdt")
int gc_begin(struct pt_regs* ctx) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct gc_start start = {};
    long full = 0;

    if (bpf_usdt_arg_cnt(ctx) > 0 && !bpf_usdt_arg(ctx, 0, &full))
        start.full = full != 0;
    start.ts_ns = bpf_ktime_get_ns();
    if (bpf_map_update_elem(&starts, &tid, &start, BPF_ANY))
        __sync_fetch_and_add(&starts_dropped, 1);
    return 0;
}

SEC("usdt")
int gc_end(struct pt_regs* ctx) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct javagc_event* event;
    struct gc_start* start;
    __u64 now = bpf_ktime_get_ns(), duration;
    __u32 full;

    start = bpf_map_lookup_elem(&starts, &tid);
    if (!start)
        return 0; /* began before we attached */
    duration = now - start->ts_ns;
    full = start->full;
    bpf_map_delete_elem(&starts, &tid);
    if (duration < targ_min_ns)
        return 0;
    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    event->ts_ns = now;
    event->duration_ns = duration;
    event->pid = id >> 32;
    event->tid = tid;
    event->cpu = bpf_get_smp_processor_id();
    event->full = full;
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}
