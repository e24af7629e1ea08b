/* hardirqs: count and time hard interrupt handlers per handler name (irqaction::name).
 *
 * irq:irq_handler_entry and irq:irq_handler_exit surround each handler a device's interrupt
 * runs (one per irqaction of a shared line). The entry program reads the handler's name and,
 * with -C, counts it there; otherwise it keeps the name and the time in a per-CPU slot (hard
 * handlers do not nest on a CPU), and the exit program adds the time to the name's totals.
 * The name is taken at entry for every hook: the classic tracepoint's exit event has no name.
 * Totals only grow: user space reports the difference between two reads, so nothing counted
 * between a read and a reset can be lost. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/log2.bpf.h>
#include "hardirqs.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool targ_count = false; /* -C: count at entry, no timing */
const volatile bool targ_dist = false;  /* -d: a histogram per name */
const volatile bool targ_ns = false;    /* -N: nanoseconds */

struct start_slot {
    __u64 ts; /* 0: no handler of ours is running on this CPU */
    struct hardirqs_key key;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct start_slot);
} start SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, HARDIRQS_MAX_NAMES);
    __type(key, struct hardirqs_key);
    __type(value, struct hardirqs_info);
} infos SEC(".maps");

/* Handler runs not recorded because `infos` was full (more than HARDIRQS_MAX_NAMES names). */
__u64 infos_full = 0;

static struct hardirqs_info zero_info;

static __always_inline struct hardirqs_info* info_of(const struct hardirqs_key* key) {
    struct hardirqs_info* info = bpf_map_lookup_elem(&infos, key);

    if (info)
        return info;
    bpf_map_update_elem(&infos, key, &zero_info, BPF_NOEXIST);
    info = bpf_map_lookup_elem(&infos, key);
    if (!info)
        __sync_fetch_and_add(&infos_full, 1);
    return info;
}

/* `name` is a kernel pointer to the handler's NUL-terminated name. */
static __always_inline int on_entry(const char* name) {
    struct hardirqs_key key = {}; /* zeroed: bytes after the NUL are part of the hash key */
    struct hardirqs_info* info;
    struct start_slot* slot;
    __u32 zero = 0;

    /* The task the interrupt landed on, as libbpf-tools' -c does. */
    if (!ct_current_cgroup_selected())
        return 0;
    if (bpf_probe_read_kernel_str(key.name, sizeof(key.name), name) < 0)
        key.name[0] = '\0';
    if (targ_count) {
        info = info_of(&key);
        if (info)
            __sync_fetch_and_add(&info->count, 1);
        return 0;
    }
    slot = bpf_map_lookup_elem(&start, &zero);
    if (!slot)
        return 0;
    slot->key = key;
    slot->ts = bpf_ktime_get_ns();
    return 0;
}

static __always_inline int on_exit(void) {
    struct hardirqs_info* info;
    struct start_slot* slot;
    __u32 zero = 0;
    __u64 delta;

    slot = bpf_map_lookup_elem(&start, &zero);
    if (!slot || slot->ts == 0)
        return 0;
    delta = bpf_ktime_get_ns() - slot->ts;
    slot->ts = 0; /* used once: a missed entry never pairs with a stale start */
    if (!targ_ns)
        delta /= 1000;
    info = info_of(&slot->key);
    if (!info)
        return 0;
    __sync_fetch_and_add(&info->count, 1);
    if (targ_dist)
        __sync_fetch_and_add(&info->slots[ct_log2_slot(delta, HARDIRQS_MAX_SLOTS)], 1);
    else
        __sync_fetch_and_add(&info->total, delta);
    return 0;
}

SEC("raw_tp/irq_handler_entry")
int BPF_PROG(hardirqs_entry_raw, int irq, struct irqaction* action) {
    return on_entry(BPF_CORE_READ(action, name));
}

SEC("raw_tp/irq_handler_exit")
int BPF_PROG(hardirqs_exit_raw, int irq, struct irqaction* action, int ret) {
    return on_exit();
}

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(hardirqs_entry_btf, int irq, struct irqaction* action) {
    return on_entry(BPF_CORE_READ(action, name));
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(hardirqs_exit_btf, int irq, struct irqaction* action, int ret) {
    return on_exit();
}

/* The classic tracepoint carries the name as a __data_loc string inside the record. */
SEC("tp/irq/irq_handler_entry")
int hardirqs_entry_tp(struct trace_event_raw_irq_handler_entry* ctx) {
    return on_entry((const char*)ctx + (ctx->__data_loc_name & 0xffff));
}

SEC("tp/irq/irq_handler_exit")
int hardirqs_exit_tp(void* ctx) {
    return on_exit();
}
