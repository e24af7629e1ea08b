/* readahead: how many pages readahead brought into the page cache, how many were then used, and
 * how long after their readahead they were first accessed.
 *
 * Two paths; user space loads one (the library's hook choice for the first event decides).
 *
 * Function hooks, as libbpf-tools, where fentry/fexit work: page_cache_ra_unbounded and
 * page_cache_ra_order are bracketed with fentry/fexit (a depth per thread: ra_order calls the
 * other); each folio filemap_alloc_folio returns inside is a readahead folio, kept by address
 * with its birth time and page count; folio_mark_accessed on it is its first access. The
 * mm_filemap_delete_from_page_cache raw tracepoint (its argument is the folio) forgets an evicted
 * folio, so a freed address reused later is not taken for a readahead folio.
 *
 * Tracepoints otherwise (no tracepoint at the end of a readahead, at page allocation or at
 * mark_page_accessed):
 *   readahead window: readahead:page_cache_ra_unbounded (pages [index, index + nr_to_read)) and
 *     readahead:page_cache_ra_order ([index, index + size)), remembered per thread;
 *   readahead pages: filemap:mm_filemap_add_to_page_cache by the same thread, of the same
 *     inode, inside that window (all 2^order pages of the folio);
 *   first access: filemap:mm_filemap_get_pages (a buffered read's page range), mm_filemap_map_pages
 *     (fault-around mapping a range) and mm_filemap_fault (one page), by page index;
 *   eviction: filemap:mm_filemap_delete_from_page_cache forgets a page (it stays unused).
 * Pages are known there by (device, inode, index). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/log2.bpf.h>
#include "readahead.h"

char LICENSE[] SEC("license") = "GPL";

/* -m: milliseconds instead of microseconds. */
const volatile bool targ_ms = false;

struct readahead_hist hist = {};

struct page_key {
    __u64 ino;
    __u64 index;
    __u32 dev;
    __u32 pad;
};

/* The readahead a thread is in (or was last in). */
struct window {
    __u64 ino;
    __u64 start;
    __u64 end; /* exclusive */
    __u32 dev;
    __u32 pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32);
    __type(value, struct window);
} windows SEC(".maps");

/* Readahead page -> when it was added. Sized by user space. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, struct page_key);
    __type(value, __u64);
} born SEC(".maps");

static __always_inline int begin_window(__u32 dev, __u64 ino, __u64 start, __u64 pages) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct window window = {.ino = ino, .start = start, .end = start + pages, .dev = dev};

    if (!ct_current_selected())
        return 0;
    bpf_map_update_elem(&windows, &tid, &window, BPF_ANY);
    return 0;
}

SEC("tp/readahead/page_cache_ra_unbounded")
int ra_unbounded(struct trace_event_raw_page_cache_ra_unbounded* ctx) {
    return begin_window(ctx->s_dev, ctx->i_ino, ctx->index, ctx->nr_to_read);
}

SEC("tp/readahead/page_cache_ra_order")
int ra_order(struct trace_event_raw_page_cache_ra_order* ctx) {
    return begin_window(ctx->s_dev, ctx->i_ino, ctx->index, ctx->size);
}

SEC("tp/filemap/mm_filemap_add_to_page_cache")
int page_added(struct trace_event_raw_mm_filemap_op_page_cache* ctx) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct page_key key = {.ino = ctx->i_ino, .dev = ctx->s_dev};
    struct window* window;
    __u64 now, pages = 1ULL << (ctx->order & 15);

    window = bpf_map_lookup_elem(&windows, &tid);
    if (!window || window->dev != ctx->s_dev || window->ino != ctx->i_ino ||
        ctx->index < window->start || ctx->index >= window->end)
        return 0;
    now = bpf_ktime_get_ns();
    for (__u32 i = 0; i < 512 && i < pages; i++) {
        key.index = ctx->index + i;
        if (bpf_map_update_elem(&born, &key, &now, BPF_NOEXIST)) {
            __sync_fetch_and_add(&hist.dropped, 1);
            continue;
        }
        __sync_fetch_and_add(&hist.total, 1);
        __sync_fetch_and_add(&hist.unused, 1);
    }
    return 0;
}

struct access {
    struct page_key key;
    __u64 first;
    __u64 now;
};

static long access_one(__u64 i, void* data) {
    struct access* access = data;
    __u64* added;
    __u64 delta;

    access->key.index = access->first + i;
    added = bpf_map_lookup_elem(&born, &access->key);
    if (!added)
        return 0;
    delta = access->now > *added ? access->now - *added : 0;
    bpf_map_delete_elem(&born, &access->key);
    delta /= targ_ms ? 1000000 : 1000;
    __sync_fetch_and_add(&hist.unused, -1);
    __sync_fetch_and_add(&hist.slots[ct_log2_slot(delta, READAHEAD_MAX_SLOTS)], 1);
    return 0;
}

static __always_inline int accessed(__u32 dev, __u64 ino, __u64 first, __u64 last) {
    struct access access = {.key = {.ino = ino, .dev = dev}, .first = first};
    __u64 pages;

    if (last < first)
        return 0;
    pages = last - first + 1;
    if (pages > READAHEAD_MAX_RANGE)
        pages = READAHEAD_MAX_RANGE;
    access.now = bpf_ktime_get_ns();
    bpf_loop(pages, access_one, &access, 0);
    return 0;
}

SEC("tp/filemap/mm_filemap_get_pages")
int get_pages(struct trace_event_raw_mm_filemap_op_page_cache_range* ctx) {
    return accessed(ctx->s_dev, ctx->i_ino, ctx->index, ctx->last_index);
}

SEC("tp/filemap/mm_filemap_map_pages")
int map_pages(struct trace_event_raw_mm_filemap_op_page_cache_range* ctx) {
    return accessed(ctx->s_dev, ctx->i_ino, ctx->index, ctx->last_index);
}

SEC("tp/filemap/mm_filemap_fault")
int fault(struct trace_event_raw_mm_filemap_fault* ctx) {
    return accessed(ctx->s_dev, ctx->i_ino, ctx->index, ctx->index);
}

SEC("tp/filemap/mm_filemap_delete_from_page_cache")
int page_deleted(struct trace_event_raw_mm_filemap_op_page_cache* ctx) {
    struct page_key key = {.ino = ctx->i_ino, .index = ctx->index, .dev = ctx->s_dev};

    bpf_map_delete_elem(&born, &key);
    return 0;
}

/* ---- the function-hook path ---------------------------------------------------------------- */

/* Thread -> how many readahead functions it is inside (page_cache_ra_order calls the other). */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32);
    __type(value, __u32);
} in_readahead SEC(".maps");

struct folio_birth {
    __u64 ts_ns;
    __u64 pages;
};

/* Readahead folio (address) -> when it was allocated and its pages. Sized with `born`. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u64);
    __type(value, struct folio_birth);
} born_folios SEC(".maps");

static __always_inline void readahead_enter(void) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u32 one = 1, *depth;

    if (!ct_current_selected())
        return;
    depth = bpf_map_lookup_elem(&in_readahead, &tid);
    if (depth)
        *depth += 1;
    else
        bpf_map_update_elem(&in_readahead, &tid, &one, BPF_ANY);
}

static __always_inline void readahead_exit(void) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u32* depth = bpf_map_lookup_elem(&in_readahead, &tid);

    if (!depth)
        return;
    if (*depth > 1)
        *depth -= 1;
    else
        bpf_map_delete_elem(&in_readahead, &tid);
}

SEC("fentry/page_cache_ra_unbounded")
int BPF_PROG(ra_unbounded_fn) {
    readahead_enter();
    return 0;
}

SEC("fexit/page_cache_ra_unbounded")
int BPF_PROG(ra_unbounded_fn_exit) {
    readahead_exit();
    return 0;
}

SEC("fentry/page_cache_ra_order")
int BPF_PROG(ra_order_fn) {
    readahead_enter();
    return 0;
}

SEC("fexit/page_cache_ra_order")
int BPF_PROG(ra_order_fn_exit) {
    readahead_exit();
    return 0;
}

static __always_inline int folio_allocated(unsigned int order, struct folio* folio) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct folio_birth birth = {.pages = 1ULL << (order & 15)};
    __u64 key = (__u64)(unsigned long)folio;

    if (!folio || !bpf_map_lookup_elem(&in_readahead, &tid))
        return 0;
    birth.ts_ns = bpf_ktime_get_ns();
    if (bpf_map_update_elem(&born_folios, &key, &birth, BPF_ANY)) {
        __sync_fetch_and_add(&hist.dropped, birth.pages);
        return 0;
    }
    __sync_fetch_and_add(&hist.total, birth.pages);
    __sync_fetch_and_add(&hist.unused, birth.pages);
    return 0;
}

SEC("fexit/filemap_alloc_folio")
int BPF_PROG(folio_allocated_fn, gfp_t gfp, unsigned int order, struct folio* folio) {
    return folio_allocated(order, folio);
}

/* Its name since Linux 6.10 (memory allocation profiling wraps the old name in a macro). */
SEC("fexit/filemap_alloc_folio_noprof")
int BPF_PROG(folio_allocated_noprof_fn, gfp_t gfp, unsigned int order, struct folio* folio) {
    return folio_allocated(order, folio);
}

SEC("fentry/folio_mark_accessed")
int BPF_PROG(folio_accessed_fn, struct folio* folio) {
    __u64 key = (__u64)(unsigned long)folio, delta, now;
    struct folio_birth* birth = bpf_map_lookup_elem(&born_folios, &key);

    if (!birth)
        return 0;
    now = bpf_ktime_get_ns();
    delta = now > birth->ts_ns ? now - birth->ts_ns : 0;
    __sync_fetch_and_add(&hist.unused, -birth->pages);
    bpf_map_delete_elem(&born_folios, &key);
    delta /= targ_ms ? 1000000 : 1000;
    /* Each page of the folio counts, as on the tracepoint path. */
    __sync_fetch_and_add(&hist.slots[ct_log2_slot(delta, READAHEAD_MAX_SLOTS)], birth->pages);
    return 0;
}

/* TP_PROTO(struct folio *folio) */
SEC("raw_tp/mm_filemap_delete_from_page_cache")
int BPF_PROG(folio_removed_raw, struct folio* folio) {
    __u64 key = (__u64)(unsigned long)folio;

    bpf_map_delete_elem(&born_folios, &key);
    return 0;
}
