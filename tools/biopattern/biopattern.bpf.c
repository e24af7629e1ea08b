/* biopattern: per disk, how many completed requests began where the previous one ended
 * (sequential) and how many elsewhere (random), and their bytes. One hook: the classic
 * tracepoint block:block_rq_complete, whose fields already carry the whole disk's dev_t, the
 * first sector and the sector count; no CO-RE read is needed. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "biopattern.h"

char LICENSE[] SEC("license") = "GPL";

/* -d: only this disk (0: any), as the kernel's dev_t. */
const volatile __u32 targ_dev = 0;

/* The tracepoint's record (events/block/block_rq_complete/format, stable since 4.x). */
struct rq_complete_args {
    __u64 common;
    __u32 dev;
    __u32 pad;
    __u64 sector;
    __u32 nr_sector;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, struct biopattern_counter);
} counters SEC(".maps");

SEC("tp/block/block_rq_complete")
int biopattern_complete(struct rq_complete_args* ctx) {
    struct biopattern_counter* counter;
    struct biopattern_counter zero = {};
    __u32 dev = ctx->dev;
    __u64 sector = ctx->sector;
    __u32 sectors = ctx->nr_sector;

    /* A request without data (a cache flush) is neither sequential nor random. */
    if ((targ_dev && dev != targ_dev) || !sectors)
        return 0;
    counter = bpf_map_lookup_elem(&counters, &dev);
    if (!counter) {
        bpf_map_update_elem(&counters, &dev, &zero, BPF_NOEXIST);
        counter = bpf_map_lookup_elem(&counters, &dev);
        if (!counter)
            return 0;
    }
    if (counter->last_sector == sector)
        __sync_fetch_and_add(&counter->sequential, 1);
    else
        __sync_fetch_and_add(&counter->random, 1);
    __sync_fetch_and_add(&counter->bytes, (__u64)sectors * 512);
    counter->last_sector = sector + sectors;
    return 0;
}
