/* bitesize: block request sizes per process name as log2 histograms of Kbytes, counted as each
 * request is issued to the driver (block_rq_issue). The name is that of the task current when
 * the request began (block_io_start, Linux 6.5 and later), kept by request address until the
 * issue; without block_io_start, or for a request that began before tracing, it is the task
 * current at the issue, as in libbpf-tools (which can be a kernel worker). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/log2.bpf.h>
#include <coretrace/block.bpf.h>
#include "bitesize.h"

char LICENSE[] SEC("license") = "GPL";

/* -c: only process names starting with this (targ_comm_len bytes, 0: any). */
const volatile char targ_comm[BLOCK_COMM_LEN] = {};
const volatile __u32 targ_comm_len = 0;
/* -d: only this disk (0: any). */
const volatile __u32 targ_dev = 0;

/* struct request address -> the name of the task that began it. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u64);
    __type(value, struct bitesize_key);
} owners SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct bitesize_key);
    __type(value, struct bitesize_hist);
} hists SEC(".maps");

static struct bitesize_hist empty_hist;

static __always_inline int started(struct request* rq) {
    __u64 key = (__u64)rq;
    struct bitesize_key owner = {};

    bpf_get_current_comm(&owner.comm, sizeof(owner.comm));
    bpf_map_update_elem(&owners, &key, &owner, BPF_ANY);
    return 0;
}

static __always_inline bool comm_selected(const char* comm) {
    for (__u32 i = 0; i < BLOCK_COMM_LEN && i < targ_comm_len; i++)
        if (comm[i] != targ_comm[i])
            return false;
    return true;
}

static __always_inline int issued(struct request* rq) {
    __u64 key = (__u64)rq;
    struct bitesize_key owner = {}, *kept;
    struct bitesize_hist* hist;
    __u32 bytes;

    kept = bpf_map_lookup_elem(&owners, &key);
    if (kept) {
        owner = *kept;
        bpf_map_delete_elem(&owners, &key);
    } else {
        bpf_get_current_comm(&owner.comm, sizeof(owner.comm));
    }
    if (!comm_selected(owner.comm))
        return 0;
    if (targ_dev && ct_rq_dev(rq) != targ_dev)
        return 0;
    hist = bpf_map_lookup_elem(&hists, &owner);
    if (!hist) {
        bpf_map_update_elem(&hists, &owner, &empty_hist, BPF_NOEXIST);
        hist = bpf_map_lookup_elem(&hists, &owner);
        if (!hist)
            return 0;
    }
    bytes = BPF_CORE_READ(rq, __data_len);
    __sync_fetch_and_add(&hist->slots[ct_log2_slot(bytes / 1024, BITESIZE_MAX_SLOTS)], 1);
    __sync_fetch_and_add(&hist->bytes, bytes);
    return 0;
}

SEC("raw_tp/block_io_start")
int BPF_PROG(bitesize_start_raw, struct request* rq) {
    return started(rq);
}

SEC("tp_btf/block_io_start")
int BPF_PROG(bitesize_start_btf, struct request* rq) {
    return started(rq);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(bitesize_issue_raw, struct request* rq) {
    return issued(rq);
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(bitesize_issue_btf, struct request* rq) {
    return issued(rq);
}
