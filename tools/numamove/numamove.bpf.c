/* numamove: page migrations from migrate:mm_migrate_pages_start and migrate:mm_migrate_pages,
 * which bracket every migrate_pages() call and carry its reason. By default only the reason
 * MR_NUMA_MISPLACED counts (NUMA balancing, what libbpf-tools' kprobe on
 * migrate_misplaced_page/folio sees); with -a every reason counts.
 *
 * Classic tracepoints: the fields are found by name with CO-RE, so the layout changes between
 * kernels (large_folio_split, Linux 6.10) do not matter, and migrations are rare enough that
 * the record copy costs nothing. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "numamove.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool all_reasons = false;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, NUMAMOVE_REASONS);
    __type(key, __u32);
    __type(value, struct numamove_stat);
} stats SEC(".maps");

/* Thread ID -> start of the migrate_pages() call in progress. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, __u64);
} start SEC(".maps");

/* Starts not remembered because `start` was full (their latency is not measured). */
__u64 starts_dropped = 0;

static __always_inline bool counted(int reason) {
    return all_reasons || reason == bpf_core_enum_value(enum migrate_reason, MR_NUMA_MISPLACED);
}

SEC("tp/migrate/mm_migrate_pages_start")
int migrate_start(struct trace_event_raw_mm_migrate_pages_start* ctx) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u64 ts;

    if (!counted(BPF_CORE_READ(ctx, reason)))
        return 0;
    ts = bpf_ktime_get_ns();
    if (bpf_map_update_elem(&start, &tid, &ts, BPF_ANY))
        __sync_fetch_and_add(&starts_dropped, 1);
    return 0;
}

SEC("tp/migrate/mm_migrate_pages")
int migrate_end(struct trace_event_raw_mm_migrate_pages* ctx) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    int reason = BPF_CORE_READ(ctx, reason);
    struct numamove_stat* stat;
    __u32 slot;
    __u64* ts;

    if (!counted(reason))
        return 0;
    slot = reason >= 0 && reason < NUMAMOVE_REASONS ? (__u32)reason : NUMAMOVE_REASONS - 1;
    stat = bpf_map_lookup_elem(&stats, &slot);
    if (!stat)
        return 0;
    __sync_fetch_and_add(&stat->migrations, 1);
    __sync_fetch_and_add(&stat->succeeded, BPF_CORE_READ(ctx, succeeded));
    __sync_fetch_and_add(&stat->failed, BPF_CORE_READ(ctx, failed));
    ts = bpf_map_lookup_elem(&start, &tid);
    if (ts) {
        __sync_fetch_and_add(&stat->latency_ns, bpf_ktime_get_ns() - *ts);
        __sync_fetch_and_add(&stat->latency_samples, 1);
        bpf_map_delete_elem(&start, &tid);
    }
    return 0;
}
