/* uprobe: one record per call of a user-space function. The uprobe reads the first integer
 * arguments from the registers; without --ret it sends them at once. With --ret it keeps them
 * per thread until the uretprobe, which sends one record with the arguments, the return value
 * and the time the call took. The process filter is in the kernel twice over: the probes are
 * attached to that process only, and ct_current_selected() checks it again. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/events.bpf.h>
#include "uprobe.h"

char LICENSE[] SEC("license") = "GPL";

/* libbpf before 1.2 has no PT_REGS_PARM6: the sixth integer argument's register on x86-64. */
#ifndef PT_REGS_PARM6
#define PT_REGS_PARM6(x) (((struct pt_regs*)(x))->r9)
#endif

/* --ret: the entry keeps the arguments for the return record instead of sending them. */
const volatile bool targ_ret = false;

struct entry {
    __u64 ts_ns;
    __u64 args[UPROBE_MAX_ARGS];
};

/* Thread ID -> the call it is in (a recursive call replaces its caller's entry). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct entry);
} entries SEC(".maps");

/* Calls whose entry could not be kept (entries full): counted as lost. */
__u64 entries_dropped = 0;

static __always_inline void read_args(struct pt_regs* ctx, __u64* args) {
    args[0] = PT_REGS_PARM1(ctx);
    args[1] = PT_REGS_PARM2(ctx);
    args[2] = PT_REGS_PARM3(ctx);
    args[3] = PT_REGS_PARM4(ctx);
    args[4] = PT_REGS_PARM5(ctx);
    args[5] = PT_REGS_PARM6(ctx);
}

static __always_inline struct uprobe_event* start_event(__u64 id, __u32 kind) {
    struct uprobe_event* event = ct_event_reserve(sizeof(*event));

    if (!event)
        return 0;
    event->ts_ns = bpf_ktime_get_ns();
    event->latency_ns = 0;
    event->ret = 0;
    event->pid = id >> 32;
    event->tid = (__u32)id;
    event->kind = kind;
    event->has_entry = 0;
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    return event;
}

SEC("uprobe")
int on_entry(struct pt_regs* ctx) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct uprobe_event* event;

    if (!ct_current_selected())
        return 0;
    if (targ_ret) {
        struct entry entry = {.ts_ns = bpf_ktime_get_ns()};

        read_args(ctx, entry.args);
        if (bpf_map_update_elem(&entries, &tid, &entry, BPF_ANY))
            __sync_fetch_and_add(&entries_dropped, 1);
        return 0;
    }
    event = start_event(id, UPROBE_ENTRY);
    if (!event)
        return 0;
    read_args(ctx, event->args);
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}

SEC("uretprobe")
int on_return(struct pt_regs* ctx) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct uprobe_event* event;
    struct entry* entry;

    if (!ct_current_selected())
        return 0;
    event = start_event(id, UPROBE_RETURN);
    if (!event)
        return 0;
    event->ret = (__s64)PT_REGS_RC(ctx);
    entry = bpf_map_lookup_elem(&entries, &tid);
    if (entry) {
        event->has_entry = 1;
        event->latency_ns = event->ts_ns - entry->ts_ns;
        __builtin_memcpy(event->args, entry->args, sizeof(event->args));
        bpf_map_delete_elem(&entries, &tid);
    } else {
        /* Attached between this call's entry and its return: no arguments to give. */
        __builtin_memset(event->args, 0, sizeof(event->args));
    }
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}
