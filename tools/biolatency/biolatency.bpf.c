/* biolatency: block I/O latency as log2 histograms, from issue to completion (or, with -Q, from
 * the moment the request was queued: block_rq_insert into the I/O scheduler). Three hooks,
 * each raw_tp or tp_btf (the user side picks): block_rq_insert (only with -Q), block_rq_issue,
 * block_rq_complete. Requests are keyed by their struct request address until completion. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/log2.bpf.h>
#include <coretrace/block.bpf.h>
#include "biolatency.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool targ_queued = false;
const volatile bool targ_per_disk = false;
const volatile bool targ_per_flag = false;
const volatile bool targ_ms = false;
/* -d: only this disk (0: any). */
const volatile __u32 targ_dev = 0;

/* struct request address -> when its latency began. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u64);
    __type(value, __u64);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct biolatency_key);
    __type(value, struct biolatency_hist);
} hists SEC(".maps");

/* Requests that could not be followed because `start` was full. */
__u64 starts_dropped = 0;

static struct biolatency_hist empty_hist;

/* Marks the start of a request's latency. With -Q the insert starts it and the issue leaves
 * an existing start alone; without -Q only the issue starts it. The cgroup filter tests the
 * task that queues or issues the request, as libbpf-tools does. */
static __always_inline int begin(struct request* rq, bool at_issue) {
    __u64 key = (__u64)rq;
    __u64 now;

    if (targ_dev && ct_rq_dev(rq) != targ_dev)
        return 0;
    if (!ct_current_cgroup_selected())
        return 0;
    if (at_issue && targ_queued && bpf_map_lookup_elem(&start, &key))
        return 0;
    now = bpf_ktime_get_ns();
    if (bpf_map_update_elem(&start, &key, &now, BPF_ANY))
        __sync_fetch_and_add(&starts_dropped, 1);
    return 0;
}

static __always_inline int complete(struct request* rq) {
    __u64 key = (__u64)rq;
    struct biolatency_key hkey = {};
    struct biolatency_hist* hist;
    __u64 *began, delta, now = bpf_ktime_get_ns();

    began = bpf_map_lookup_elem(&start, &key);
    if (!began)
        return 0;
    delta = now > *began ? now - *began : 0;
    bpf_map_delete_elem(&start, &key);

    if (targ_per_disk)
        hkey.dev = ct_rq_dev(rq);
    if (targ_per_flag)
        hkey.flags = ct_rq_flags(rq);
    hist = bpf_map_lookup_elem(&hists, &hkey);
    if (!hist) {
        bpf_map_update_elem(&hists, &hkey, &empty_hist, BPF_NOEXIST);
        hist = bpf_map_lookup_elem(&hists, &hkey);
        if (!hist)
            return 0;
    }
    delta /= targ_ms ? 1000000 : 1000;
    __sync_fetch_and_add(&hist->slots[ct_log2_slot(delta, BIOLATENCY_MAX_SLOTS)], 1);
    return 0;
}

SEC("raw_tp/block_rq_insert")
int BPF_PROG(biolat_insert_raw, struct request* rq) {
    return begin(rq, false);
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(biolat_insert_btf, struct request* rq) {
    return begin(rq, false);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(biolat_issue_raw, struct request* rq) {
    return begin(rq, true);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(biolat_issue_btf, struct request* rq) {
    return begin(rq, true);
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(biolat_done_raw, struct request* rq) {
    return complete(rq);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(biolat_done_btf, struct request* rq) {
    return complete(rq);
}
