/* biosnoop: one record per completed block request: who asked for it, the disk, the operation,
 * sector and size, the time queued and the time at the device.
 *
 * A request is followed by its struct request address from the first of these events to its
 * completion: block_io_start (the start of I/O accounting, in the submitting task: Linux 6.5
 * and later, where it replaces the kprobe on blk_account_io_start that libbpf-tools uses),
 * block_rq_insert (into the I/O scheduler), block_rq_issue (to the driver), block_rq_complete.
 * The task that is current at the first of them is the request's process and is what -p and
 * -c test; without block_io_start that is the task that inserts or issues the request. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/events.bpf.h>
#include <coretrace/block.bpf.h>
#include "biosnoop.h"

char LICENSE[] SEC("license") = "GPL";

/* -d: only this disk (0: any). */
const volatile __u32 targ_dev = 0;
/* -m: only requests at the device at least this long (ns). */
const volatile __u64 targ_min_ns = 0;

struct inflight {
    __u64 queued_ns; /* block_io_start or block_rq_insert, 0: not seen */
    __u64 issue_ns;  /* block_rq_issue, 0: not yet */
    __u32 pid;
    __u32 ignored; /* filtered out: followed only so later events do not pick it up anew */
    char comm[BLOCK_COMM_LEN];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u64);
    __type(value, struct inflight);
} requests SEC(".maps");

/* Requests that could not be followed because `requests` was full: counted as lost. */
__u64 requests_dropped = 0;

enum stage { STAGE_START, STAGE_INSERT, STAGE_ISSUE };

static __always_inline int track(struct request* rq, enum stage stage) {
    __u64 key = (__u64)rq, now = bpf_ktime_get_ns();
    struct inflight* seen = bpf_map_lookup_elem(&requests, &key);
    struct inflight fresh = {};
    __u64 id;

    /* block_io_start begins a request's life: whatever is stored under its address belongs to
     * an earlier request that never completed (merged into another). */
    if (seen && stage != STAGE_START) {
        if (stage == STAGE_INSERT && !seen->queued_ns)
            seen->queued_ns = now;
        if (stage == STAGE_ISSUE)
            seen->issue_ns = now;
        return 0;
    }
    id = bpf_get_current_pid_tgid();
    fresh.pid = id >> 32;
    if ((targ_dev && ct_rq_dev(rq) != targ_dev) || !ct_pid_selected(fresh.pid, (__u32)id) ||
        !ct_current_cgroup_selected())
        fresh.ignored = 1;
    bpf_get_current_comm(&fresh.comm, sizeof(fresh.comm));
    if (stage == STAGE_ISSUE)
        fresh.issue_ns = now;
    else
        fresh.queued_ns = now;
    if (bpf_map_update_elem(&requests, &key, &fresh, BPF_ANY) && !fresh.ignored)
        __sync_fetch_and_add(&requests_dropped, 1);
    return 0;
}

static __always_inline int complete(void* ctx, struct request* rq, int error) {
    __u64 key = (__u64)rq, now = bpf_ktime_get_ns();
    struct inflight* seen = bpf_map_lookup_elem(&requests, &key);
    struct biosnoop_event* event;
    struct inflight req;

    if (!seen)
        return 0;
    req = *seen;
    bpf_map_delete_elem(&requests, &key);
    if (req.ignored || !req.issue_ns || now - req.issue_ns < targ_min_ns)
        return 0;

    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    event->ts_ns = now;
    event->sector = BPF_CORE_READ(rq, __sector);
    event->lat_ns = now - req.issue_ns;
    event->queued_ns = req.queued_ns && req.queued_ns <= req.issue_ns ? req.issue_ns - req.queued_ns
                                                                      : BIOSNOOP_NO_QUEUE_TIME;
    event->pid = req.pid;
    event->dev = ct_rq_dev(rq);
    event->flags = ct_rq_flags(rq);
    event->bytes = BPF_CORE_READ(rq, __data_len);
    event->error = error;
    event->pad = 0;
    __builtin_memcpy(event->comm, req.comm, sizeof(event->comm));
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}

SEC("raw_tp/block_io_start")
int BPF_PROG(biosnoop_start_raw, struct request* rq) {
    return track(rq, STAGE_START);
}

SEC("tp_btf/block_io_start")
int BPF_PROG(biosnoop_start_btf, struct request* rq) {
    return track(rq, STAGE_START);
}

SEC("raw_tp/block_rq_insert")
int BPF_PROG(biosnoop_insert_raw, struct request* rq) {
    return track(rq, STAGE_INSERT);
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(biosnoop_insert_btf, struct request* rq) {
    return track(rq, STAGE_INSERT);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(biosnoop_issue_raw, struct request* rq) {
    return track(rq, STAGE_ISSUE);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(biosnoop_issue_btf, struct request* rq) {
    return track(rq, STAGE_ISSUE);
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(biosnoop_done_raw, struct request* rq, int error, unsigned int nr_bytes) {
    return complete(ctx, rq, error);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(biosnoop_done_btf, struct request* rq, int error, unsigned int nr_bytes) {
    return complete(ctx, rq, error);
}
