/* readahead: how many pages readahead brought into the page cache, how many were then used, and
 * how long after their readahead they were first accessed.
 *
 * libbpf-tools brackets do_page_cache_ra / page_cache_ra_order with fentry/fexit, takes each page
 * allocated inside (fexit of __page_cache_alloc / filemap_alloc_folio) and watches
 * mark_page_accessed for it. There is no tracepoint at the end of a readahead, nor at page
 * allocation, nor at mark_page_accessed. Here:
 *   readahead window: readahead:page_cache_ra_unbounded (pages [index, index + nr_to_read)) and
 *     readahead:page_cache_ra_order ([index, index + size)), remembered per thread;
 *   readahead pages: filemap:mm_filemap_add_to_page_cache by the same thread, of the same
 *     inode, inside that window (all 2^order pages of the folio);
 *   first access: filemap:mm_filemap_get_pages (a buffered read's page range), mm_filemap_map_pages
 *     (fault-around mapping a range) and mm_filemap_fault (one page), by page index;
 *   eviction: filemap:mm_filemap_delete_from_page_cache forgets a page (it stays unused).
 * Pages are known by (device, inode, index). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
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
