/* biostacks: block I/O latency, from the start of a request's I/O accounting (block_io_start)
 * to its end (block_io_done), as log2 histograms per (process, disk, kernel stack at the
 * start). libbpf-tools uses fentry or kprobes on blk_account_io_start/done, where these two
 * tracepoints (Linux 6.5) now fire; the stack is taken inside the hook, so its first frames are
 * the hook's own. Before 6.5 the functions take fentry or a kprobe where they are not inlined
 * (6.1 inlines blk_account_io_start: there the start is the request's issue, block_rq_issue). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/log2.bpf.h>
#include <coretrace/block.bpf.h>
#include "biostacks.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 targ_dev = 0;
const volatile bool targ_ms = false;

struct started {
    __u64 ts;
    struct biostacks_key key;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u64);
    __type(value, struct started);
} requests SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct biostacks_key);
    __type(value, struct biostacks_hist);
} hists SEC(".maps");

/* Scratch for building a start (too big for the BPF stack with the rest). */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct started);
} scratch SEC(".maps");

__u64 requests_dropped = 0;

static struct biostacks_hist empty_hist;

static __always_inline int start(void* ctx, struct request* rq) {
    __u64 key = (__u64)rq;
    __u32 zero = 0, dev = ct_rq_dev(rq);
    struct started* s;
    long bytes;

    if (targ_dev && dev != targ_dev)
        return 0;
    s = bpf_map_lookup_elem(&scratch, &zero);
    if (!s)
        return 0;
    __builtin_memset(&s->key, 0, sizeof(s->key));
    s->key.tgid = bpf_get_current_pid_tgid() >> 32;
    s->key.dev = dev;
    bpf_get_current_comm(&s->key.comm, sizeof(s->key.comm));
    bytes = bpf_get_stack(ctx, s->key.kern_stack, sizeof(s->key.kern_stack), 0);
    s->key.stack_bytes = bytes > 0 ? bytes : 0;
    s->ts = bpf_ktime_get_ns();
    if (bpf_map_update_elem(&requests, &key, s, BPF_ANY))
        __sync_fetch_and_add(&requests_dropped, 1);
    return 0;
}

static __always_inline int done(struct request* rq) {
    __u64 key = (__u64)rq, now = bpf_ktime_get_ns(), delta;
    struct biostacks_hist* hist;
    struct started* s = bpf_map_lookup_elem(&requests, &key);

    if (!s)
        return 0;
    delta = now > s->ts ? now - s->ts : 0;
    hist = bpf_map_lookup_elem(&hists, &s->key);
    if (!hist) {
        bpf_map_update_elem(&hists, &s->key, &empty_hist, BPF_NOEXIST);
        hist = bpf_map_lookup_elem(&hists, &s->key);
    }
    if (hist) {
        delta /= targ_ms ? 1000000 : 1000;
        __sync_fetch_and_add(&hist->slots[ct_log2_slot(delta, BIOSTACKS_MAX_SLOTS)], 1);
    }
    bpf_map_delete_elem(&requests, &key);
    return 0;
}

SEC("raw_tp/block_io_start")
int BPF_PROG(biostacks_start_raw, struct request* rq) {
    return start(ctx, rq);
}

SEC("tp_btf/block_io_start")
int BPF_PROG(biostacks_start_btf, struct request* rq) {
    return start(ctx, rq);
}

SEC("raw_tp/block_io_done")
int BPF_PROG(biostacks_done_raw, struct request* rq) {
    return done(rq);
}

SEC("tp_btf/block_io_done")
int BPF_PROG(biostacks_done_btf, struct request* rq) {
    return done(rq);
}

/* Before Linux 6.5: the functions the tracepoints replaced (libbpf-tools' hooks). */
SEC("fentry/blk_account_io_start")
int BPF_PROG(biostacks_start_fentry, struct request* rq) {
    return start(ctx, rq);
}

SEC("kprobe/blk_account_io_start")
int BPF_KPROBE(biostacks_start_kprobe, struct request* rq) {
    return start(ctx, rq);
}

/* Last resort: the request's issue to the driver (in the submitting task when issued directly). */
SEC("raw_tp/block_rq_issue")
int BPF_PROG(biostacks_issue_raw, struct request* rq) {
    return start(ctx, rq);
}

SEC("fentry/blk_account_io_done")
int BPF_PROG(biostacks_done_fentry, struct request* rq) {
    return done(rq);
}

SEC("kprobe/blk_account_io_done")
int BPF_KPROBE(biostacks_done_kprobe, struct request* rq) {
    return done(rq);
}

/* Last resort: the request's completion (block_rq_complete: rq, error, nr_bytes). */
SEC("raw_tp/block_rq_complete")
int BPF_PROG(biostacks_complete_raw, struct request* rq) {
    return done(rq);
}
