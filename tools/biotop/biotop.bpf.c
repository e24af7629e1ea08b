/* biotop: block I/O totals per process, disk and direction: requests, bytes and time at the
 * device. The process is the task current at block_io_start (Linux 6.5 and later; libbpf-tools
 * uses a kprobe on blk_account_io_start, the same place), kept by request address until
 * completion; without block_io_start, the task current at the issue. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/block.bpf.h>
#include "biotop.h"

char LICENSE[] SEC("license") = "GPL";

struct who {
    __u64 issue_ns; /* 0 until issued */
    __u32 pid;
    __u32 ignored;
    char comm[BLOCK_COMM_LEN];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u64);
    __type(value, struct who);
} requests SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct biotop_key);
    __type(value, struct biotop_value);
} totals SEC(".maps");

/* Requests not followed: `requests` or `totals` was full. */
__u64 requests_dropped = 0;

static __always_inline void remember(struct request* rq, __u64 issue_ns) {
    __u64 key = (__u64)rq, id = bpf_get_current_pid_tgid();
    struct who fresh = {};

    fresh.issue_ns = issue_ns;
    fresh.pid = id >> 32;
    fresh.ignored = !ct_pid_selected(fresh.pid, (__u32)id) || !ct_current_cgroup_selected();
    bpf_get_current_comm(&fresh.comm, sizeof(fresh.comm));
    if (bpf_map_update_elem(&requests, &key, &fresh, BPF_ANY) && !fresh.ignored)
        __sync_fetch_and_add(&requests_dropped, 1);
}

static __always_inline int issued(struct request* rq) {
    __u64 key = (__u64)rq;
    struct who* seen = bpf_map_lookup_elem(&requests, &key);

    if (seen)
        seen->issue_ns = bpf_ktime_get_ns();
    else
        remember(rq, bpf_ktime_get_ns());
    return 0;
}

static __always_inline int completed(struct request* rq) {
    __u64 key = (__u64)rq, now = bpf_ktime_get_ns();
    struct who* seen = bpf_map_lookup_elem(&requests, &key);
    struct biotop_key tkey = {};
    struct biotop_value* total;
    struct biotop_value zero = {};
    struct who req;

    if (!seen)
        return 0;
    req = *seen;
    bpf_map_delete_elem(&requests, &key);
    if (req.ignored || !req.issue_ns)
        return 0;
    tkey.pid = req.pid;
    tkey.dev = ct_rq_dev(rq);
    tkey.write = (ct_rq_flags(rq) & BLOCK_OP_MASK) == BLOCK_OP_WRITE;
    __builtin_memcpy(tkey.comm, req.comm, sizeof(tkey.comm));
    total = bpf_map_lookup_elem(&totals, &tkey);
    if (!total) {
        bpf_map_update_elem(&totals, &tkey, &zero, BPF_NOEXIST);
        total = bpf_map_lookup_elem(&totals, &tkey);
        if (!total) {
            __sync_fetch_and_add(&requests_dropped, 1);
            return 0;
        }
    }
    __sync_fetch_and_add(&total->bytes, BPF_CORE_READ(rq, __data_len));
    __sync_fetch_and_add(&total->ns, now > req.issue_ns ? now - req.issue_ns : 0);
    __sync_fetch_and_add(&total->io, 1);
    return 0;
}

SEC("raw_tp/block_io_start")
int BPF_PROG(biotop_start_raw, struct request* rq) {
    remember(rq, 0);
    return 0;
}

SEC("tp_btf/block_io_start")
int BPF_PROG(biotop_start_btf, struct request* rq) {
    remember(rq, 0);
    return 0;
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(biotop_issue_raw, struct request* rq) {
    return issued(rq);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(biotop_issue_btf, struct request* rq) {
    return issued(rq);
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(biotop_done_raw, struct request* rq) {
    return completed(rq);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(biotop_done_btf, struct request* rq) {
    return completed(rq);
}
