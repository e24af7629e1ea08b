/* execsnoop: one record per execve(2) and execveat(2) call, with its path, arguments, parent
 * and result.
 *
 * The entry tracepoint (tp/syscalls/sys_enter_execve*) applies the filters that depend on the
 * caller (-u, -c), and copies the path and up to --max-args - 1 arguments from user memory into
 * an entry of `execs` keyed by the thread ID: after a successful exec that memory is gone. When
 * a thread other than the leader execs, the kernel gives it the leader's ID: sched_process_exec
 * reports the old ID, and its program moves the entry to the new one. The exit tracepoint
 * takes the entry back, applies -x, -n and -l, and sends the record through the library's
 * event stream. -l needs a scan of up to 7680 bytes: it runs in bpf_loop(), in a second exit
 * program that user space loads only for -l. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <coretrace/filter.bpf.h>
#define CT_EVENT_MAX_BYTES sizeof(struct execsnoop_event)
#include "execsnoop.h"
#include <coretrace/events.bpf.h>
#include <coretrace/strings.bpf.h>

char LICENSE[] SEC("license") = "GPL";

/* Without -x, failed calls are not reported (libbpf-tools' default). */
const volatile bool targ_failed_too = false;
/* --max-args: strings kept per call, the path included. */
const volatile __u32 targ_max_args = EXECSNOOP_DEFAULT_ARGS;
/* -n: only command names containing this (targ_name_len bytes, 0: any). */
const volatile char targ_name[EXECSNOOP_COMM_LEN] = {};
const volatile __u32 targ_name_len = 0;
/* -l: only calls whose path or arguments contain a pattern of targ_line_len bytes, matched by
 * the automaton targ_line_dfa (state * 256 + byte -> next state; targ_line_len: matched). */
const volatile __u32 targ_line_len = 0;
const volatile __u8 targ_line_dfa[EXECSNOOP_DFA_SIZE] = {};

/* Thread ID -> the call in progress. Entries are allocated on use (a preallocated map would
 * hold max_entries records of 7.8 KB each). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);
    __type(value, struct execsnoop_event);
} execs SEC(".maps");

/* A record of zeroes, to start each entry of `execs` from (never written). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct execsnoop_event);
} blank SEC(".maps");

/* Calls that could not be followed because `execs` was full: counted as lost. */
__u64 calls_dropped = 0;

/* Copies string `index` from user memory into its slot of args. An unreadable string becomes
 * ""; a long one is cut, with bit `index` of cut_args set. The slots are fixed, so the
 * verifier sees a constant offset and the bytes after each NUL stay zero (no stale bytes). */
static __always_inline void read_string(struct execsnoop_event* event, __u32 index,
                                        const char* from) {
    char* slot;
    long len;
    char next = 0;

    if (index >= EXECSNOOP_MAX_ARGS)
        return;
    slot = &event->args[index * EXECSNOOP_ARG_LEN];
    len = bpf_probe_read_user_str(slot, EXECSNOOP_ARG_LEN, from);
    if (len <= 0)
        return;
    if (len == EXECSNOOP_ARG_LEN &&
        (bpf_probe_read_user(&next, 1, from + EXECSNOOP_ARG_LEN - 1) || next != '\0'))
        event->cut_args |= 1ULL << index;
}

static __always_inline int on_enter(const char* filename, const char* const* argv, __u32 syscall) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id, zero = 0;
    struct execsnoop_event* event;
    struct execsnoop_event* empty;
    struct task_struct* task;
    const char* arg = 0;
    __u32 i;

    if (!ct_current_uid_selected() || !ct_current_cgroup_selected())
        return 0;
    empty = bpf_map_lookup_elem(&blank, &zero);
    if (!empty)
        return 0;
    if (bpf_map_update_elem(&execs, &tid, empty, BPF_ANY)) {
        __sync_fetch_and_add(&calls_dropped, 1);
        return 0;
    }
    event = bpf_map_lookup_elem(&execs, &tid);
    if (!event)
        return 0;

    task = (struct task_struct*)bpf_get_current_task();
    event->pid = id >> 32;
    event->tid = tid;
    event->ppid = (__u32)BPF_CORE_READ(task, real_parent, tgid);
    event->uid = (__u32)bpf_get_current_uid_gid();
    event->syscall = syscall;

    read_string(event, 0, filename);
    /* argv[0] is left out, as libbpf-tools does: the path stands for it. */
    for (i = 1; i < EXECSNOOP_MAX_ARGS; i++) {
        if (i >= targ_max_args)
            break;
        if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
            goto done;
        read_string(event, i, arg);
    }
    /* Stopped at --max-args: is there another argument? */
    if (!bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) && arg)
        event->more_args = 1;
done:
    event->args_count = i;
    return 0;
}

/* -l, one byte per bpf_loop() step: the automaton's state after args[0..index]. */
struct line_scan {
    const struct execsnoop_event* event;
    __u32 state;
};

static long line_step(__u32 index, void* data) {
    struct line_scan* scan = data;
    __u32 next;

    if (index >= EXECSNOOP_ARGS_BYTES)
        return 1;
    next = scan->state * 256 + (__u8)scan->event->args[index];
    if (next >= EXECSNOOP_DFA_SIZE)
        return 1;
    scan->state = targ_line_dfa[next];
    return scan->state == targ_line_len ? 1 : 0;
}

static __always_inline int on_exit(void* ctx, long ret, bool match_line) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct execsnoop_event* stored;
    struct execsnoop_event* event;

    stored = bpf_map_lookup_elem(&execs, &tid);
    if (!stored)
        return 0;
    if (ret < 0 && !targ_failed_too)
        goto done;
    if (!ct_current_comm_contains(targ_name, targ_name_len))
        goto done;
    if (match_line) {
        struct line_scan scan = {.event = stored, .state = 0};

        bpf_loop(stored->args_count * EXECSNOOP_ARG_LEN, line_step, &scan, 0);
        if (scan.state != targ_line_len)
            goto done;
    }

    event = ct_event_reserve(sizeof(*event));
    if (!event)
        goto done;
    if (bpf_probe_read_kernel(event, sizeof(*event), stored)) {
        ct_event_discard(event);
        goto done;
    }
    event->ts_ns = bpf_ktime_get_ns();
    event->retval = (__s32)ret;
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    ct_event_submit(ctx, event, sizeof(*event));
done:
    bpf_map_delete_elem(&execs, &tid);
    return 0;
}

/* A thread other than the leader exec'd: it now has the leader's ID. */
static __always_inline int on_exec(__u32 old_tid) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct execsnoop_event* stored;

    if (old_tid == tid)
        return 0;
    stored = bpf_map_lookup_elem(&execs, &old_tid);
    if (!stored)
        return 0;
    if (bpf_map_update_elem(&execs, &tid, stored, BPF_ANY))
        __sync_fetch_and_add(&calls_dropped, 1);
    bpf_map_delete_elem(&execs, &old_tid);
    return 0;
}

SEC("tp/syscalls/sys_enter_execve")
int execve_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter((const char*)ctx->args[0], (const char* const*)ctx->args[1], EXECSNOOP_EXECVE);
}

SEC("tp/syscalls/sys_exit_execve")
int execve_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret, false);
}

/* The same tracepoint, for -l (a second section spelling, so each has its own hook entry). */
SEC("tracepoint/syscalls/sys_exit_execve")
int execve_exit_l(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret, true);
}

SEC("tp/syscalls/sys_enter_execveat")
int execveat_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter((const char*)ctx->args[1], (const char* const*)ctx->args[2],
                    EXECSNOOP_EXECVEAT);
}

SEC("tp/syscalls/sys_exit_execveat")
int execveat_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret, false);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int execveat_exit_l(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret, true);
}

SEC("raw_tp/sched_process_exec")
int exec_raw(struct bpf_raw_tracepoint_args* ctx) {
    return on_exec((__u32)ctx->args[1]);
}

SEC("tp/sched/sched_process_exec")
int exec_tp(struct trace_event_raw_sched_process_exec* ctx) {
    return on_exec((__u32)ctx->old_pid);
}
