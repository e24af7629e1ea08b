/* llcstat: last-level cache references and misses by process (or thread) and CPU, by sampling.
 * User space opens two hardware perf events on every CPU, cache references and cache misses,
 * each overflowing every `sample_period` events; at each overflow one of these programs adds
 * the period to the counter of the task running there. The counts are estimates: the task on
 * the CPU at the overflow is charged the whole period. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "llcstat.h"

char LICENSE[] SEC("license") = "GPL";

/* -t: count per thread, not per process. */
const volatile bool targ_per_thread = false;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, LLCSTAT_MAX_ENTRIES);
    __type(key, struct llcstat_key);
    __type(value, struct llcstat_value);
} counts SEC(".maps");

/* Samples not counted because `counts` was full. */
__u64 samples_dropped = 0;

static __always_inline int count(__u64 period, bool miss) {
    __u64 id = bpf_get_current_pid_tgid();
    struct llcstat_key key = {};
    struct llcstat_value* value;

    key.cpu = bpf_get_smp_processor_id();
    key.pid = id >> 32;
    key.tid = targ_per_thread ? (__u32)id : 0;
    value = bpf_map_lookup_elem(&counts, &key);
    if (!value) {
        struct llcstat_value zero = {};

        /* Another program may have added the key meanwhile: BPF_NOEXIST fails then, and the
         * lookup below finds its entry. */
        bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST);
        value = bpf_map_lookup_elem(&counts, &key);
        if (!value) {
            __sync_fetch_and_add(&samples_dropped, 1);
            return 0;
        }
    }
    if (miss)
        __sync_fetch_and_add(&value->misses, period);
    else
        __sync_fetch_and_add(&value->references, period);
    bpf_get_current_comm(value->comm, sizeof(value->comm));
    return 0;
}

SEC("perf_event")
int llcstat_miss(struct bpf_perf_event_data* ctx) {
    return count(ctx->sample_period, true);
}

SEC("perf_event")
int llcstat_ref(struct bpf_perf_event_data* ctx) {
    return count(ctx->sample_period, false);
}
