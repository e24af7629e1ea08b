/* cachestat: page cache accesses, misses and dirtied pages, as counters user space reads and
 * zeroes once per interval.
 *
 * Accesses, where fentry works, are counted as libbpf-tools does: calls of folio_mark_accessed
 * (mark_page_accessed on kernels before folios), less calls of mark_buffer_dirty (metadata
 * buffers marked accessed and then dirtied are writes, not cache reads). Elsewhere, from
 * tracepoints, since no tracepoint marks a page accessed. Misses and dirties come from
 * tracepoints on every kernel (libbpf-tools counts add_to_page_cache_lru / filemap_add_folio and
 * folio_account_dirtied calls):
 *   accesses (tracepoints): filemap:mm_filemap_get_pages, the pages a buffered read asked for, once
 * per read (the read loop fires it for every batch with the same request range, so a thread's later
 *     batches of the same request are not counted again), clamped to the file's size where the
 *     raw tracepoint gives the inode; plus one per filemap:mm_filemap_fault (a page fault on a
 *     file mapping). Writes that find their page cached, and fault-around mappings, are not
 *     seen as accesses.
 *   misses: filemap:mm_filemap_add_to_page_cache, 2^order pages each, except when the current
 *     task is in a write-family system call (those pages are being written, not read: what
 *     libbpf-tools subtracts with folio_account_dirtied).
 *   dirties: writeback:writeback_dirty_folio, one per folio that becomes dirty. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include "cachestat.h"

char LICENSE[] SEC("license") = "GPL";

__u64 accesses = 0;
__u64 misses = 0;
__u64 write_adds = 0; /* pages added to the cache within a write-family call */
__u64 dirties = 0;
__u64 buffer_dirties = 0; /* mark_buffer_dirty calls (fentry path), subtracted from accesses */

/* One more for `counter`, when the current task passes the filters. */
static __always_inline int count(__u64* counter) {
    if (ct_current_selected())
        __sync_fetch_and_add(counter, 1);
    return 0;
}

/* The last read request each thread was counted for. */
struct read_request {
    __u64 file;
    __u64 index;
    __u64 last;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32);
    __type(value, struct read_request);
} requests SEC(".maps");

/* x86-64 write-family system call numbers: write, pwrite64, writev, pwritev, pwritev2. */
static __always_inline bool in_write_call(void) {
    struct task_struct* task = bpf_get_current_task_btf();
    struct pt_regs* regs = (struct pt_regs*)bpf_task_pt_regs(task);
    long nr = BPF_CORE_READ(regs, orig_ax);

    return nr == 1 || nr == 18 || nr == 20 || nr == 296 || nr == 328;
}

/* One get_pages event: pages [index, last] of `file` (an inode's identity) were asked for;
 * size_pages is the file's size in pages, or ~0 when unknown. */
static __always_inline int on_get_pages(__u64 file, __u64 index, __u64 last, __u64 size_pages) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct read_request* prev;
    struct read_request now = {.file = file, .index = index, .last = last};

    if (!ct_current_selected())
        return 0;
    if (size_pages != ~0ULL) {
        if (size_pages == 0)
            return 0;
        if (last >= size_pages)
            now.last = last = size_pages - 1;
    }
    if (index > last)
        return 0;
    prev = bpf_map_lookup_elem(&requests, &tid);
    if (prev && prev->file == file && prev->last == last && index > prev->index) {
        prev->index = index; /* a later batch of the request already counted */
        return 0;
    }
    bpf_map_update_elem(&requests, &tid, &now, BPF_ANY);
    __sync_fetch_and_add(&accesses, last - index + 1);
    return 0;
}

SEC("raw_tp/mm_filemap_get_pages")
int BPF_PROG(get_pages_raw, struct address_space* mapping, unsigned long index,
             unsigned long last) {
    struct inode* host = BPF_CORE_READ(mapping, host);
    __s64 size = BPF_CORE_READ(host, i_size);

    return on_get_pages((__u64)(unsigned long)host, index, last,
                        size <= 0 ? 0 : (size + 4095) >> 12);
}

SEC("tp/filemap/mm_filemap_get_pages")
int get_pages_tp(struct trace_event_raw_mm_filemap_op_page_cache_range* ctx) {
    return on_get_pages(ctx->i_ino ^ ((__u64)ctx->s_dev << 40), ctx->index, ctx->last_index, ~0ULL);
}

SEC("tp/filemap/mm_filemap_fault")
int fault_tp(void* ctx) {
    return count(&accesses);
}

SEC("tp/filemap/mm_filemap_add_to_page_cache")
int add_tp(struct trace_event_raw_mm_filemap_op_page_cache* ctx) {
    __u64 pages = 1ULL << (ctx->order & 31);

    if (!ct_current_selected())
        return 0;
    if (in_write_call())
        __sync_fetch_and_add(&write_adds, pages);
    else
        __sync_fetch_and_add(&misses, pages);
    return 0;
}

static __always_inline int on_dirty(void) {
    return count(&dirties);
}

SEC("tp/writeback/writeback_dirty_folio")
int dirty_folio_tp(void* ctx) {
    return on_dirty();
}

/* The same event before the folio conversion (Linux 5.17 and older). */
SEC("tp/writeback/writeback_dirty_page")
int dirty_page_tp(void* ctx) {
    return on_dirty();
}

/* ---- accesses with fentry, as libbpf-tools -------------------------------------------------- */

SEC("fentry/folio_mark_accessed")
int BPF_PROG(folio_accessed_fn) {
    return count(&accesses);
}

/* Kernels before folios (5.15 and older): the page-based function. */
SEC("fentry/mark_page_accessed")
int BPF_PROG(page_accessed_fn) {
    return count(&accesses);
}

SEC("fentry/mark_buffer_dirty")
int BPF_PROG(buffer_dirty_fn) {
    return count(&buffer_dirties);
}
