/* slabratetop: allocations per slab cache, from the kmem:kmem_cache_alloc tracepoint.
 *
 * The raw tracepoint passes the struct kmem_cache * (Linux 6.1+), whose name and object size
 * are read with CO-RE; the classic tracepoint, the fallback, carries the name and the bytes
 * allocated itself. Counters are keyed by the cache's name, as libbpf-tools keys them by its
 * name pointer. -p is applied here. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <coretrace/filter.bpf.h>
#include "slabratetop.h"

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct slabratetop_key);
    __type(value, struct slabratetop_value);
} slab_entries SEC(".maps");

/* Allocations not counted because slab_entries was full. */
__u64 dropped = 0;

static __always_inline void count(struct slabratetop_key* key, __u64 bytes) {
    static const struct slabratetop_value zero = {};
    struct slabratetop_value* value;

    value = bpf_map_lookup_elem(&slab_entries, key);
    if (!value) {
        bpf_map_update_elem(&slab_entries, key, &zero, BPF_NOEXIST);
        value = bpf_map_lookup_elem(&slab_entries, key);
        if (!value) {
            __sync_fetch_and_add(&dropped, 1);
            return;
        }
    }
    __sync_fetch_and_add(&value->count, 1);
    __sync_fetch_and_add(&value->bytes, bytes);
}

static __always_inline bool selected(void) {
    __u64 id = bpf_get_current_pid_tgid();
    return ct_pid_selected(id >> 32, (__u32)id);
}

/* TP_PROTO(unsigned long call_site, const void *ptr, struct kmem_cache *s, gfp_t gfp_flags,
 *          int node) */
SEC("raw_tp/kmem_cache_alloc")
int slab_raw(struct bpf_raw_tracepoint_args* ctx) {
    struct kmem_cache* cache = (struct kmem_cache*)ctx->args[2];
    struct slabratetop_key key = {};

    if (!selected())
        return 0;
    bpf_probe_read_kernel_str(key.name, sizeof(key.name), BPF_CORE_READ(cache, name));
    count(&key, BPF_CORE_READ(cache, size));
    return 0;
}

SEC("tp/kmem/kmem_cache_alloc")
int slab_tp(struct trace_event_raw_kmem_cache_alloc* ctx) {
    struct slabratetop_key key = {};
    __u32 loc;

    if (!selected())
        return 0;
    loc = BPF_CORE_READ(ctx, __data_loc_name);
    bpf_probe_read_kernel_str(key.name, sizeof(key.name), (void*)ctx + (loc & 0xffff));
    count(&key, BPF_CORE_READ(ctx, bytes_alloc));
    return 0;
}
