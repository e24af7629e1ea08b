/* memleak: outstanding allocations by stack. Each allocation seen is kept in `allocs` under its
 * address, with its size, time and stack id, until it is freed; user space sums what is still
 * there per stack. User mode: uprobes and uretprobes on an allocator library (libc's malloc
 * family, mmap and munmap), attached by user space to one process. Kernel mode: the kmem and
 * percpu tracepoints. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/events.bpf.h>
#include "memleak.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u64 min_size = 0;
const volatile __u64 max_size = (__u64)-1;
const volatile __u64 page_size = 4096;
const volatile __u64 sample_rate = 1;
const volatile bool trace_all = false;
const volatile bool user_stacks = false;
const volatile bool wa_missing_free = false;
const volatile bool combined_only = false;

/* What an allocator call's entry leaves for its return, per thread. */
enum pending_kind {
    PENDING_ALLOC = 0,          /* returns the address, NULL on failure */
    PENDING_MMAP = 1,           /* returns the address, MAP_FAILED on failure */
    PENDING_REALLOC = 2,        /* also frees `old` when it succeeds */
    PENDING_POSIX_MEMALIGN = 3, /* returns 0 and stores the address at `memptr` */
};

struct pending {
    __u64 size;
    __u64 memptr; /* posix_memalign's out-pointer */
    __u64 old;    /* realloc's old block */
    __u32 kind;
    /* Allocator calls made inside this one (glibc's realloc(NULL, n) calls malloc, malloc calls
     * mmap for big blocks): their returns are not allocations of their own. */
    __u32 depth;
    __u32 skip; /* outside -z/-Z or not sampled: not recorded */
    __u32 pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct pending);
} pendings SEC(".maps");

/* Preallocated: without, a burst of allocations (kernel mode sees tens of thousands a second)
 * empties the per-CPU caches that BPF's allocator refills only later, and updates fail. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, MEMLEAK_MAX_ALLOCS);
    __type(key, __u64);
    __type(value, struct memleak_alloc);
} allocs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, MEMLEAK_STACKS);
    __type(key, __s64);
    __type(value, struct memleak_combined);
} combined_allocs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(max_entries, MEMLEAK_STACKS);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, MEMLEAK_STACK_DEPTH * sizeof(__u64));
} stack_traces SEC(".maps");

/* Allocations not tracked: `allocs` full, or (user mode) a call whose entry found `pendings`
 * full. Stacks that could not be recorded are seen by user space as negative stack ids. */
__u64 allocs_untracked = 0;
__u64 pendings_dropped = 0;
__u64 combined_untracked = 0;

static __always_inline void trace_event(void* ctx, __u32 op, __u64 address, __u64 size) {
    struct memleak_event* e;
    __u64 id;

    if (!trace_all)
        return;
    e = ct_event_reserve(sizeof(*e));
    if (!e)
        return;
    id = bpf_get_current_pid_tgid();
    e->ts_ns = bpf_ktime_get_ns();
    e->address = address;
    e->size = size;
    e->op = op;
    e->pid = id >> 32;
    e->tid = (__u32)id;
    e->pad = 0;
    ct_event_submit(ctx, e, sizeof(*e));
}

static __always_inline void combined_change(__s64 stack_id, __u64 size, bool add) {
    struct memleak_combined zero = {}, *c;

    c = bpf_map_lookup_elem(&combined_allocs, &stack_id);
    if (!c) {
        if (!add)
            return;
        bpf_map_update_elem(&combined_allocs, &stack_id, &zero, BPF_NOEXIST);
        c = bpf_map_lookup_elem(&combined_allocs, &stack_id);
        if (!c) {
            __sync_fetch_and_add(&combined_untracked, 1);
            return;
        }
    }
    if (add) {
        __sync_fetch_and_add(&c->total_size, size);
        __sync_fetch_and_add(&c->number_of_allocs, 1);
    } else {
        __sync_fetch_and_add(&c->total_size, -size);
        __sync_fetch_and_add(&c->number_of_allocs, -1);
    }
}

static __always_inline void free_address(void* ctx, __u64 address) {
    struct memleak_alloc* info = bpf_map_lookup_elem(&allocs, &address);
    __s64 stack_id;
    __u64 size;

    if (!info)
        return;
    stack_id = info->stack_id;
    size = info->size;
    if (bpf_map_delete_elem(&allocs, &address))
        return; /* freed meanwhile on another CPU: counted there */
    if (combined_only)
        combined_change(stack_id, size, false);
    trace_event(ctx, MEMLEAK_FREE, address, size);
}

static __always_inline bool wanted(__u64 size) {
    if (size < min_size || size > max_size)
        return false;
    return sample_rate <= 1 || bpf_ktime_get_ns() % sample_rate == 0;
}

static __always_inline void record(void* ctx, __u64 address, __u64 size) {
    struct memleak_alloc info = {}, *old;

    info.size = size;
    info.timestamp_ns = bpf_ktime_get_ns();
    info.stack_id = bpf_get_stackid(ctx, &stack_traces, user_stacks ? BPF_F_USER_STACK : 0);
    /* A block at an address we still hold was freed without our seeing it (-F in kernel mode
     * frees it first): the new one replaces it. */
    old = bpf_map_lookup_elem(&allocs, &address);
    if (old && combined_only)
        combined_change(old->stack_id, old->size, false);
    if (bpf_map_update_elem(&allocs, &address, &info, BPF_ANY)) {
        __sync_fetch_and_add(&allocs_untracked, 1);
        return;
    }
    if (combined_only)
        combined_change(info.stack_id, size, true);
    trace_event(ctx, MEMLEAK_ALLOC, address, size);
}

/* ---- User mode ---- */

static __always_inline int alloc_enter(__u64 size, __u32 kind, __u64 memptr, __u64 old) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct pending* p = bpf_map_lookup_elem(&pendings, &tid);
    struct pending n = {};

    if (p) {
        p->depth++;
        return 0;
    }
    n.size = size;
    n.kind = kind;
    n.memptr = memptr;
    n.old = old;
    n.skip = !wanted(size);
    if (bpf_map_update_elem(&pendings, &tid, &n, BPF_ANY))
        __sync_fetch_and_add(&pendings_dropped, 1);
    return 0;
}

SEC("uprobe")
int BPF_KPROBE(malloc_enter, __u64 size) {
    return alloc_enter(size, PENDING_ALLOC, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(calloc_enter, __u64 nmemb, __u64 size) {
    return alloc_enter(nmemb * size, PENDING_ALLOC, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(realloc_enter, void* ptr, __u64 size) {
    return alloc_enter(size, PENDING_REALLOC, 0, (__u64)ptr);
}

/* memalign(alignment, size), aligned_alloc(alignment, size) */
SEC("uprobe")
int BPF_KPROBE(memalign_enter, __u64 alignment, __u64 size) {
    return alloc_enter(size, PENDING_ALLOC, 0, 0);
}

SEC("uprobe")
int BPF_KPROBE(posix_memalign_enter, void** memptr, __u64 alignment, __u64 size) {
    return alloc_enter(size, PENDING_POSIX_MEMALIGN, (__u64)memptr, 0);
}

SEC("uprobe")
int BPF_KPROBE(mmap_enter, void* address, __u64 length) {
    return alloc_enter(length, PENDING_MMAP, 0, 0);
}

/* The return of every allocator function. */
SEC("uretprobe")
int BPF_KRETPROBE(alloc_exit, __u64 ret) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct pending* p = bpf_map_lookup_elem(&pendings, &tid);
    struct pending call;
    __u64 address = ret;

    if (!p)
        return 0;
    if (p->depth) {
        p->depth--;
        return 0;
    }
    call = *p;
    bpf_map_delete_elem(&pendings, &tid);
    if (call.kind == PENDING_MMAP && address == (__u64)-1)
        address = 0;
    if (call.kind == PENDING_POSIX_MEMALIGN) {
        void* block = NULL;
        address = 0;
        if ((int)ret == 0 && !bpf_probe_read_user(&block, sizeof(block), (void*)call.memptr))
            address = (__u64)block;
    }
    /* realloc frees its old block when it succeeds, or when it is asked for 0 bytes. */
    if (call.kind == PENDING_REALLOC && call.old && (address || call.size == 0))
        free_address(ctx, call.old);
    if (!address || call.skip)
        return 0;
    record(ctx, address, call.size);
    return 0;
}

/* free(ptr), munmap(address, length) */
SEC("uprobe")
int BPF_KPROBE(free_enter, void* address) {
    if (address)
        free_address(ctx, (__u64)address);
    return 0;
}

/* ---- Kernel mode ---- */

/* Before Linux 6.1, kmalloc and kmem_cache_alloc shared the class kmem_alloc, and had _node
 * twins (kmem_alloc_node) that began the same way. Those types are not in this kernel's BTF, and
 * a CO-RE relocation against a type missing here would cost every start the full kernel BTF:
 * their layout is written out instead (the records' own layout, as in the tracepoints' format
 * files, stable since 2.6.32). */
struct kmem_alloc_args {
    __u64 common;
    unsigned long call_site;
    const void* ptr;
    size_t bytes_req;
    size_t bytes_alloc;
};

static __always_inline int kernel_alloc(void* ctx, __u64 address, __u64 size) {
    if (wa_missing_free)
        free_address(ctx, address);
    if (!address || !wanted(size))
        return 0;
    record(ctx, address, size);
    return 0;
}

SEC("tp/kmem/kmalloc")
int memleak_kmalloc(void* ctx) {
    if (bpf_core_type_exists(struct trace_event_raw_kmalloc)) {
        struct trace_event_raw_kmalloc* args = ctx;
        return kernel_alloc(ctx, (__u64)args->ptr, args->bytes_alloc);
    }
    struct kmem_alloc_args* old = ctx;
    return kernel_alloc(ctx, (__u64)old->ptr, old->bytes_alloc);
}

SEC("tp/kmem/kmem_cache_alloc")
int memleak_cache_alloc(void* ctx) {
    if (bpf_core_type_exists(struct trace_event_raw_kmem_cache_alloc)) {
        struct trace_event_raw_kmem_cache_alloc* args = ctx;
        return kernel_alloc(ctx, (__u64)args->ptr, args->bytes_alloc);
    }
    struct kmem_alloc_args* old = ctx;
    return kernel_alloc(ctx, (__u64)old->ptr, old->bytes_alloc);
}

SEC("tp/kmem/kmalloc_node")
int memleak_kmalloc_node(struct kmem_alloc_args* ctx) {
    return kernel_alloc(ctx, (__u64)ctx->ptr, ctx->bytes_alloc);
}

SEC("tp/kmem/kmem_cache_alloc_node")
int memleak_cache_alloc_node(struct kmem_alloc_args* ctx) {
    return kernel_alloc(ctx, (__u64)ctx->ptr, ctx->bytes_alloc);
}

SEC("tp/kmem/kfree")
int memleak_kfree(struct trace_event_raw_kfree* ctx) {
    free_address(ctx, (__u64)ctx->ptr);
    return 0;
}

/* Before 5.12 kmem_cache_free was of the class kmem_free (call_site, ptr). */
struct kmem_free_args {
    __u64 common;
    unsigned long call_site;
    const void* ptr;
};

SEC("tp/kmem/kmem_cache_free")
int memleak_cache_free(void* ctx) {
    if (bpf_core_type_exists(struct trace_event_raw_kmem_cache_free)) {
        struct trace_event_raw_kmem_cache_free* args = ctx;
        free_address(ctx, (__u64)args->ptr);
    } else {
        struct kmem_free_args* old = ctx;
        free_address(ctx, (__u64)old->ptr);
    }
    return 0;
}

/* Pages are kept under their page frame number. */
SEC("tp/kmem/mm_page_alloc")
int memleak_page_alloc(struct trace_event_raw_mm_page_alloc* ctx) {
    return kernel_alloc(ctx, ctx->pfn, page_size << ctx->order);
}

SEC("tp/kmem/mm_page_free")
int memleak_page_free(struct trace_event_raw_mm_page_free* ctx) {
    free_address(ctx, ctx->pfn);
    return 0;
}

SEC("tp/percpu/percpu_alloc_percpu")
int memleak_percpu_alloc(struct trace_event_raw_percpu_alloc_percpu* ctx) {
    /* bytes_alloc since 5.19 (size before). Read through probe reads: the compiler merges two
     * direct ctx loads into one at a computed offset, which the verifier refuses. */
    __u64 size = bpf_core_field_exists(ctx->bytes_alloc) ? BPF_CORE_READ(ctx, bytes_alloc)
                                                         : BPF_CORE_READ(ctx, size);
    return kernel_alloc(ctx, (__u64)ctx->ptr, size);
}

SEC("tp/percpu/percpu_free_percpu")
int memleak_percpu_free(struct trace_event_raw_percpu_free_percpu* ctx) {
    free_address(ctx, (__u64)ctx->ptr);
    return 0;
}
