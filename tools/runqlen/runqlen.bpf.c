/* runqlen: run queue length by sampling. A cpu-clock perf event fires on every CPU (99 Hz by
 * default, user space opens them); at each sample this program reads how many tasks are queued
 * on the CFS run queue of the task on the CPU, less the one running, and counts it in that CPU's
 * copy of a per-CPU histogram, so no sample contends with another CPU.
 *
 * The count is the CFS run queue's: `cfs_rq->nr_queued` since Linux 6.14, `cfs_rq->nr_running`
 * before (the same field, renamed), chosen by CO-RE at load. libbpf-tools 0.26 reads only
 * `nr_running`, whose relocation fails on 6.14 and later: the reason it does not load there. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "runqlen.h"

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct runqlen_hist);
} hist SEC(".maps");

/* Kernels before 6.14 call the field nr_running. */
struct cfs_rq___pre614 {
    unsigned int nr_running;
} __attribute__((preserve_access_index));

static __always_inline __u32 cfs_queued(struct cfs_rq* cfs) {
    if (bpf_core_field_exists(cfs->nr_queued))
        return BPF_CORE_READ(cfs, nr_queued);
    return BPF_CORE_READ((struct cfs_rq___pre614*)cfs, nr_running);
}

SEC("perf_event")
int runqlen_sample(struct bpf_perf_event_data* ctx) {
    struct task_struct* task = (struct task_struct*)bpf_get_current_task();
    struct cfs_rq* cfs = BPF_CORE_READ(task, se.cfs_rq);
    struct runqlen_hist* h;
    __u32 zero = 0, len = 0;

    if (cfs)
        len = cfs_queued(cfs);
    /* The task running is counted in the queue: 0 means idle or one task alone. */
    if (len > 0)
        len--;
    if (len >= RUNQLEN_MAX_SLOTS)
        len = RUNQLEN_MAX_SLOTS - 1;
    h = bpf_map_lookup_elem(&hist, &zero);
    /* The mask (RUNQLEN_MAX_SLOTS is a power of two) keeps the verifier sure of the bound,
     * which the compiler may otherwise check on a copy. This CPU's own copy of the histogram:
     * nothing else writes it meanwhile. */
    if (!h)
        return 0;
    barrier_var(len); /* forget what the compiler knows of len, so the mask stays */
    h->slots[len & (RUNQLEN_MAX_SLOTS - 1)]++;
    return 0;
}
