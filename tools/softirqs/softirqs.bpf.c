/* softirqs: count and time softirq handlers per vector.
 *
 * irq:softirq_entry and irq:softirq_exit surround each vector's handler. Runs are counted at
 * entry (where the kernel counts them for /proc/softirqs); the time from entry to exit is added
 * at exit, using a per-CPU start (softirqs do not nest on a CPU). All totals live in .bss, only
 * grow, and are read by user space through the mmapped section. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/log2.bpf.h>
#include "softirqs.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool targ_dist = false; /* -d: a histogram per vector */
const volatile bool targ_ns = false;   /* -N: nanoseconds */
const volatile __s32 targ_cpu = -1;    /* -c CPU: only this CPU (-1: all) */

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} start SEC(".maps");

__u64 counts[SOFTIRQS_NR_VECTORS] = {};
__u64 times[SOFTIRQS_NR_VECTORS] = {};
__u32 hists[SOFTIRQS_NR_VECTORS][SOFTIRQS_MAX_SLOTS] = {};
/* Runs of a vector number beyond SOFTIRQS_NR_VECTORS (a kernel with more vectors). */
__u64 unknown_vectors = 0;

static __always_inline bool cpu_selected(void) {
    return targ_cpu < 0 || bpf_get_smp_processor_id() == (__u32)targ_cpu;
}

static __always_inline int on_entry(unsigned int vec) {
    __u32 zero = 0;
    __u64* ts;

    if (!cpu_selected())
        return 0;
    if (vec >= SOFTIRQS_NR_VECTORS) {
        __sync_fetch_and_add(&unknown_vectors, 1);
        return 0;
    }
    __sync_fetch_and_add(&counts[vec], 1);
    ts = bpf_map_lookup_elem(&start, &zero);
    if (ts)
        *ts = bpf_ktime_get_ns();
    return 0;
}

static __always_inline int on_exit(unsigned int vec) {
    __u32 zero = 0;
    __u64 *ts, delta;

    if (vec >= SOFTIRQS_NR_VECTORS || !cpu_selected())
        return 0;
    ts = bpf_map_lookup_elem(&start, &zero);
    if (!ts || *ts == 0)
        return 0;
    delta = bpf_ktime_get_ns() - *ts;
    *ts = 0; /* used once: a missed entry never pairs with a stale start */
    if (!targ_ns)
        delta /= 1000;
    if (targ_dist)
        __sync_fetch_and_add(&hists[vec][ct_log2_slot(delta, SOFTIRQS_MAX_SLOTS)], 1);
    else
        __sync_fetch_and_add(&times[vec], delta);
    return 0;
}

SEC("raw_tp/softirq_entry")
int BPF_PROG(softirqs_entry_raw, unsigned int vec) {
    return on_entry(vec);
}

SEC("raw_tp/softirq_exit")
int BPF_PROG(softirqs_exit_raw, unsigned int vec) {
    return on_exit(vec);
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(softirqs_entry_btf, unsigned int vec) {
    return on_entry(vec);
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(softirqs_exit_btf, unsigned int vec) {
    return on_exit(vec);
}

SEC("tp/irq/softirq_entry")
int softirqs_entry_tp(struct trace_event_raw_softirq* ctx) {
    return on_entry(ctx->vec);
}

SEC("tp/irq/softirq_exit")
int softirqs_exit_tp(struct trace_event_raw_softirq* ctx) {
    return on_exit(ctx->vec);
}
