/* funclatency: the time each call of one function takes, as a log2 histogram. The entry probe
 * stores the time per thread; the return probe takes it back and counts the call in `hist`.
 * User-space functions through a uprobe and a uretprobe; kernel functions through a kprobe and
 * a kretprobe where the kernel allows kprobes (user space loads only the pair it attaches). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/log2.bpf.h>
#include "funclatency.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 targ_units = FUNCLATENCY_NSEC;

/* Thread ID -> when its call began (a recursive call replaces its caller's start). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, __u64);
} starts SEC(".maps");

__u32 hist[FUNCLATENCY_SLOTS] = {};
/* Calls not measured because `starts` was full. */
__u64 starts_dropped = 0;

static __always_inline int on_entry(void) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u64 now;

    if (!ct_current_selected())
        return 0;
    now = bpf_ktime_get_ns();
    if (bpf_map_update_elem(&starts, &tid, &now, BPF_ANY))
        __sync_fetch_and_add(&starts_dropped, 1);
    return 0;
}

static __always_inline int on_return(void) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u64 *start, delta;
    __u32 slot;

    start = bpf_map_lookup_elem(&starts, &tid);
    if (!start)
        return 0;
    delta = bpf_ktime_get_ns() - *start;
    bpf_map_delete_elem(&starts, &tid);
    if (targ_units == FUNCLATENCY_USEC)
        delta /= 1000;
    else if (targ_units == FUNCLATENCY_MSEC)
        delta /= 1000000;
    slot = ct_log2_slot(delta, FUNCLATENCY_SLOTS);
    __sync_fetch_and_add(&hist[slot], 1);
    return 0;
}

SEC("uprobe")
int uprobe_entry(struct pt_regs* ctx) {
    return on_entry();
}

SEC("uretprobe")
int uprobe_return(struct pt_regs* ctx) {
    return on_return();
}

SEC("kprobe")
int kprobe_entry(struct pt_regs* ctx) {
    return on_entry();
}

SEC("kretprobe")
int kprobe_return(struct pt_regs* ctx) {
    return on_return();
}
