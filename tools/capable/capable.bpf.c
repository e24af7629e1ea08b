/* capable: one record per capability check, with the capability and commoncap's verdict.
 *
 * Preferred, as libbpf-tools: a program on cap_capable() itself (fexit: its arguments, including
 * `opts`, and its return value in one program). Where fentry/fexit do not work, the
 * capability:cap_capable tracepoint (Linux 6.13+), which fires at the end of cap_capable(): the
 * raw tracepoint gives the typed arguments (cred, target_ns, capable_ns, cap, ret), the classic
 * one is the fallback. The tracepoint does not carry `opts`, so whether the check is audited
 * (CAP_OPT_NOAUDIT) and whether it came from an "in setid" path (CAP_OPT_INSETID) are unknown
 * there. Everything is filtered in the kernel: -p, -c, the tool's own checks, and -u (first
 * check of a capability per process or cgroup only). With -K/-U the record carries the ids of
 * the kernel and user stacks of the check, which user space reads from the stack map as it
 * prints (the process is still there: no note of new processes is needed). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/events.bpf.h>
#define CT_NO_PROCESS_NOTES
#include <coretrace/stacks.bpf.h>
#include "capable.h"

char LICENSE[] SEC("license") = "GPL";

/* The tool's own process: its checks are not reported (as libbpf-tools). */
const volatile __u32 my_tgid = 0;
const volatile __u32 unique_type = CAPABLE_UNIQUE_OFF;
const volatile bool kernel_stacks = false;
const volatile bool user_stacks = false;

/* -u: what was already reported. */
struct unique_key {
    __s32 cap;
    __u32 tgid;
    __u64 cgroup_id;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct unique_key);
    __type(value, __u8);
} seen SEC(".maps");

/* -u: checks that could not be remembered because `seen` was full (reported anyway). */
__u64 seen_full = 0;

static __always_inline int on_check(void* ctx, int cap, int ret, __u32 opts) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32;
    struct capable_event* event;

    if (tgid == my_tgid || !ct_current_selected())
        return 0;
    if (unique_type != CAPABLE_UNIQUE_OFF) {
        struct unique_key key = {.cap = cap};
        __u8 one = 1;

        if (unique_type == CAPABLE_UNIQUE_CGROUP)
            key.cgroup_id = bpf_get_current_cgroup_id();
        else
            key.tgid = tgid;
        if (bpf_map_lookup_elem(&seen, &key))
            return 0;
        if (bpf_map_update_elem(&seen, &key, &one, BPF_NOEXIST))
            __sync_fetch_and_add(&seen_full, 1);
    }
    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    event->ts_ns = bpf_ktime_get_ns();
    event->pid = tgid;
    event->tid = (__u32)id;
    event->uid = (__u32)bpf_get_current_uid_gid();
    event->cap = cap;
    event->ret = ret;
    event->opts = opts;
    event->kern_stack_id = kernel_stacks ? ct_stack_id(ctx, false) : -1;
    event->user_stack_id = user_stacks ? ct_stack_id(ctx, true) : -1;
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}

SEC("fexit/cap_capable")
int BPF_PROG(capable_fexit, const struct cred* cred, struct user_namespace* target_ns, int cap,
             unsigned int opts, int ret) {
    return on_check(ctx, cap, ret, opts);
}

/* TP_PROTO(const struct cred *cred, struct user_namespace *target_ns,
 *          const struct user_namespace *capable_ns, int cap, int ret) */
SEC("raw_tp/cap_capable")
int capable_raw(struct bpf_raw_tracepoint_args* ctx) {
    return on_check(ctx, (int)ctx->args[3], (int)ctx->args[4], CAPABLE_OPTS_UNKNOWN);
}

SEC("tp/capability/cap_capable")
int capable_tp(struct trace_event_raw_cap_capable* ctx) {
    return on_check(ctx, ctx->cap, ctx->ret, CAPABLE_OPTS_UNKNOWN);
}
