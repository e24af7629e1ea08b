/* sigsnoop: one record per signal generated (signal:signal_generate), or, with -k (killsnoop),
 * one per kill(2), tkill(2) or tgkill(2) call as it returns.
 *
 * signal_generate is hooked as a raw tracepoint (its arguments: sig, info, task, group,
 * result, read with CO-RE) or as the classic tracepoint. The sender is the current task. In -k
 * mode the syscall entry stores the call's target and signal under the thread ID, the
 * signal_generate program adds the target's comm, si_code and delivery result when the call
 * generates the signal, and the syscall exit sends the record with the call's return value.
 * Every filter (-p, -s, -x, -c) is applied here. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/events.bpf.h>
#include "sigsnoop.h"

char LICENSE[] SEC("license") = "GPL";

/* -x: only failed signals (non-zero RESULT). */
const volatile bool targ_failed = false;
/* -s: only these signals (bit sig - 1; 0: any). */
const volatile __u64 targ_signals = 0;
/* -k: the kill(2)-family syscalls make the records; signal_generate only completes them. */
const volatile bool kill_only = false;

/* Thread ID -> the kill(2)-family call it is in. Sized by user space. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct sigsnoop_event);
} inflight SEC(".maps");

/* Calls that could not be followed because `inflight` was full: counted as lost. */
__u64 calls_dropped = 0;

static __always_inline bool signal_selected(int sig) {
    if (!targ_signals)
        return true;
    if (sig < 1 || sig > SIGSNOOP_MAX_SIGNAL)
        return false;
    return (targ_signals >> (sig - 1)) & 1;
}

static __always_inline bool sender_selected(__u64 id) {
    return ct_pid_selected(id >> 32, (__u32)id) && ct_current_cgroup_selected();
}

/* What signal_generate tells about one signal. */
struct generated {
    int sig;
    int si_errno;
    int code;
    int result;
    __s32 tpid;
    char tcomm[SIGSNOOP_COMM_LEN];
};

static __always_inline int on_generate(void* ctx, const struct generated* g) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct sigsnoop_event* event;

    if (kill_only) {
        /* Complete the record of the call this thread is in, when it targets this task. */
        event = bpf_map_lookup_elem(&inflight, &tid);
        if (event && event->tpid == g->tpid && event->result == SIGSNOOP_NOT_GENERATED) {
            event->code = g->code;
            event->result = g->result;
            __builtin_memcpy(event->tcomm, g->tcomm, sizeof(event->tcomm));
        }
        return 0;
    }
    if (targ_failed && g->si_errno == 0)
        return 0;
    if (!signal_selected(g->sig) || !sender_selected(id))
        return 0;

    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    event->ts_ns = bpf_ktime_get_ns();
    event->pid = id >> 32;
    event->tid = tid;
    event->tpid = g->tpid;
    event->sig = g->sig;
    event->ret = g->si_errno;
    event->code = g->code;
    event->result = g->result;
    event->source = SIGSNOOP_GENERATE;
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    __builtin_memcpy(event->tcomm, g->tcomm, sizeof(event->tcomm));
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}

/* SEND_SIG_NOINFO and SEND_SIG_PRIV (include/linux/sched/signal.h): not real pointers. */
#define CT_SEND_SIG_NOINFO 0UL
#define CT_SEND_SIG_PRIV 1UL
#define CT_SI_USER 0
#define CT_SI_KERNEL 0x80

SEC("raw_tp/signal_generate")
int generate_raw(struct bpf_raw_tracepoint_args* ctx) {
    struct kernel_siginfo* info = (struct kernel_siginfo*)ctx->args[1];
    struct task_struct* task = (struct task_struct*)ctx->args[2];
    struct generated g = {};

    g.sig = (int)ctx->args[0];
    g.result = (int)ctx->args[4];
    if ((unsigned long)info == CT_SEND_SIG_NOINFO) {
        g.code = CT_SI_USER;
    } else if ((unsigned long)info == CT_SEND_SIG_PRIV) {
        g.code = CT_SI_KERNEL;
    } else {
        g.si_errno = BPF_CORE_READ(info, si_errno);
        g.code = BPF_CORE_READ(info, si_code);
    }
    g.tpid = BPF_CORE_READ(task, pid);
    BPF_CORE_READ_STR_INTO(&g.tcomm, task, comm);
    return on_generate(ctx, &g);
}

SEC("tp/signal/signal_generate")
int generate_tp(struct trace_event_raw_signal_generate* ctx) {
    struct generated g = {};

    g.sig = ctx->sig;
    g.si_errno = ctx->errno;
    g.code = ctx->code;
    g.result = ctx->result;
    g.tpid = ctx->pid;
    /* The context may only be read with fixed-offset loads: copy the array out. */
    bpf_probe_read_kernel(g.tcomm, sizeof(g.tcomm), ctx->comm);
    return on_generate(ctx, &g);
}

static __always_inline int on_enter(__s32 tpid, int sig, __u32 source) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct sigsnoop_event event = {};

    if (!signal_selected(sig) || !sender_selected(id))
        return 0;
    event.pid = id >> 32;
    event.tid = tid;
    event.tpid = tpid;
    event.sig = sig;
    event.result = SIGSNOOP_NOT_GENERATED;
    event.source = source;
    bpf_get_current_comm(event.comm, sizeof(event.comm));
    if (bpf_map_update_elem(&inflight, &tid, &event, BPF_ANY))
        __sync_fetch_and_add(&calls_dropped, 1);
    return 0;
}

static __always_inline int on_return(void* ctx, long ret) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct sigsnoop_event* stored;
    struct sigsnoop_event* event;

    stored = bpf_map_lookup_elem(&inflight, &tid);
    if (!stored)
        return 0;
    if (targ_failed && ret >= 0)
        goto done;
    event = ct_event_reserve(sizeof(*event));
    if (!event)
        goto done;
    __builtin_memcpy(event, stored, sizeof(*event));
    event->ts_ns = bpf_ktime_get_ns();
    event->ret = (__s32)ret;
    ct_event_submit(ctx, event, sizeof(*event));
done:
    bpf_map_delete_elem(&inflight, &tid);
    return 0;
}

SEC("tp/syscalls/sys_enter_kill")
int kill_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter((__s32)ctx->args[0], (int)ctx->args[1], SIGSNOOP_KILL);
}

SEC("tp/syscalls/sys_exit_kill")
int kill_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_return(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_enter_tkill")
int tkill_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter((__s32)ctx->args[0], (int)ctx->args[1], SIGSNOOP_TKILL);
}

SEC("tp/syscalls/sys_exit_tkill")
int tkill_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_return(ctx, ctx->ret);
}

/* tgkill(tgid, tid, sig): the target is the thread. */
SEC("tp/syscalls/sys_enter_tgkill")
int tgkill_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter((__s32)ctx->args[1], (int)ctx->args[2], SIGSNOOP_TGKILL);
}

SEC("tp/syscalls/sys_exit_tgkill")
int tgkill_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_return(ctx, ctx->ret);
}
