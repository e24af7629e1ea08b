/* Per-event records to user space (C++ side: coretrace/event_stream.hpp). A BPF ring buffer
 * where the kernel has one; user space retypes ct_events into a perf event array and sets
 * ct_events_use_perfbuf where it does not. Records are submitted without waking the reader,
 * which drains on a short timer, unless the buffer is filling up; a record that cannot be
 * reserved is counted in ct_events_dropped, so loss is never silent. */
#ifndef CORETRACE_EVENTS_BPF_H
#define CORETRACE_EVENTS_BPF_H

#include <bpf/bpf_helpers.h>

#ifndef CT_EVENT_MAX_BYTES
#define CT_EVENT_MAX_BYTES 1024
#endif

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 24);
} ct_events SEC(".maps");

/* Staging for the perf buffer path, which copies a finished record out. The value has a BTF
 * type like the key: a map with key BTF but a bare value_size is refused by the kernel, and
 * libbpf would retry it without BTF, with a warning. */
struct ct_event_scratch {
    __u8 bytes[CT_EVENT_MAX_BYTES];
};
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct ct_event_scratch);
} ct_events_scratch SEC(".maps");

const volatile bool ct_events_use_perfbuf = false;
/* Wake the reader once this much data is waiting (set by user space to a quarter of the ring). */
const volatile __u64 ct_events_wakeup_bytes = 1 << 22;
__u64 ct_events_dropped = 0;

/* Room for one record of `size` bytes (a compile-time constant), or NULL (counted as dropped). */
static __always_inline void* ct_event_reserve(__u32 size) {
    void* record;

    if (ct_events_use_perfbuf) {
        __u32 zero = 0;
        return bpf_map_lookup_elem(&ct_events_scratch, &zero);
    }
    record = bpf_ringbuf_reserve(&ct_events, size, 0);
    if (!record)
        __sync_fetch_and_add(&ct_events_dropped, 1);
    return record;
}

/* Gives back a reserved record that is not to be sent (the perf path's scratch needs nothing). */
static __always_inline void ct_event_discard(void* record) {
    if (!ct_events_use_perfbuf)
        bpf_ringbuf_discard(record, BPF_RB_NO_WAKEUP);
}

static __always_inline void ct_event_submit(void* ctx, void* record, __u32 size) {
    if (ct_events_use_perfbuf) {
        /* A full perf buffer (-ENOSPC) is counted by the kernel, which tells the reader how
         * many samples it lost; count only the failures it does not report. */
        long err = bpf_perf_event_output(ctx, &ct_events, BPF_F_CURRENT_CPU, record, size);
        if (err && err != -28 /* ENOSPC */)
            __sync_fetch_and_add(&ct_events_dropped, 1);
        return;
    }
    bpf_ringbuf_submit(record,
                       bpf_ringbuf_query(&ct_events, BPF_RB_AVAIL_DATA) >= ct_events_wakeup_bytes
                           ? BPF_RB_FORCE_WAKEUP
                           : BPF_RB_NO_WAKEUP);
}

#endif
