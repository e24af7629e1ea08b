/* opensnoop: one record per open(2), openat(2) and openat2(2) call, with its result.
 *
 * Each system call has an entry and an exit tracepoint (tp/syscalls/sys_enter_X, sys_exit_X).
 * The entry program applies the filters that depend on the caller only (-p, -t, -u, -n, -c)
 * and stores the call's arguments under the thread ID; the exit program takes them back,
 * applies the filters that depend on the result (-x) and on the path (--path, --path-prefix),
 * and sends one record through the library's event stream. Everything is filtered here. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/events.bpf.h>
#include <coretrace/strings.bpf.h>
#include <coretrace/syscall_args.bpf.h>
#include "opensnoop.h"

char LICENSE[] SEC("license") = "GPL";

/* -x: only calls that failed. */
const volatile bool targ_failed = false;
/* -n: only command names containing this (targ_name_len bytes, 0: any). */
const volatile char targ_name[OPENSNOOP_COMM_LEN] = {};
const volatile __u32 targ_name_len = 0;
/* --path / --path-prefix: only paths containing / starting with this. */
const volatile __u32 path_match = OPENSNOOP_PATH_ANY;
const volatile char targ_path[OPENSNOOP_PATTERN_MAX] = {};
const volatile __u32 targ_path_len = 0;

/* Arguments of a call in progress, from its entry to its exit. */
struct open_args {
    __u64 path; /* user-space pointer */
    __u32 flags;
    __u32 mode;
    __u32 syscall;
};

/* Thread ID -> the open it is in. A thread is in one system call at a time; an entry whose
 * exit was never seen (the exit program attached a moment after the entry one) is replaced
 * by the thread's next open. Sized by user space. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct open_args);
} start SEC(".maps");

/* Calls that could not be followed because `start` was full: counted as lost. */
__u64 args_dropped = 0;

static __always_inline int on_enter(const char* path, __u32 flags, __u32 mode, __u32 syscall) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct open_args args = {};

    if (!ct_pid_selected(id >> 32, tid) || !ct_current_uid_selected())
        return 0;
    if (!ct_current_comm_contains(targ_name, targ_name_len) || !ct_current_cgroup_selected())
        return 0;
    args.path = (__u64)(unsigned long)path;
    args.flags = flags;
    args.mode = mode;
    args.syscall = syscall;
    ct_args_keep(&start, tid, &args, &args_dropped);
    return 0;
}

static __always_inline int on_exit(void* ctx, long ret) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct opensnoop_event* event;
    struct open_args args;
    long len;

    if (!ct_args_take(&start, tid, &args, sizeof(args)))
        return 0;
    if (targ_failed && ret >= 0)
        return 0;

    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    event->ts_ns = bpf_ktime_get_ns();
    event->pid = id >> 32;
    event->tid = tid;
    event->uid = (__u32)bpf_get_current_uid_gid();
    event->ret = (__s32)ret;
    event->flags = args.flags;
    event->mode = args.mode;
    event->syscall = args.syscall;
    event->path_truncated = 0;
    bpf_get_current_comm(event->comm, sizeof(event->comm));

    len = bpf_probe_read_user_str(event->path, sizeof(event->path), (const void*)args.path);
    if (len <= 0) {
        /* Unreadable (a bad pointer, or a page not present): an empty path, never stale bytes
         * from an earlier record. */
        event->path[0] = '\0';
        len = 1;
    } else if (len == OPENSNOOP_PATH_LEN) {
        char next = 0;

        /* The buffer is full: was that the whole path, or its first 255 bytes? */
        if (bpf_probe_read_user(&next, 1, (const char*)args.path + OPENSNOOP_PATH_LEN - 1) ||
            next != '\0')
            event->path_truncated = 1;
    }
    if (path_match != OPENSNOOP_PATH_ANY &&
        !ct_occurs_in(event->path, (__u32)len - 1, OPENSNOOP_PATH_LEN, targ_path, targ_path_len,
                      OPENSNOOP_PATTERN_MAX, path_match == OPENSNOOP_PATH_PREFIX)) {
        ct_event_discard(event);
        return 0;
    }
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}

/* open(2) exists on x86-64 but not on every architecture: user space skips it when missing. */
SEC("tp/syscalls/sys_enter_open")
int open_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter((const char*)ctx->args[0], (__u32)ctx->args[1], (__u32)ctx->args[2],
                    OPENSNOOP_OPEN);
}

SEC("tp/syscalls/sys_exit_open")
int open_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_enter_openat")
int openat_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter((const char*)ctx->args[1], (__u32)ctx->args[2], (__u32)ctx->args[3],
                    OPENSNOOP_OPENAT);
}

SEC("tp/syscalls/sys_exit_openat")
int openat_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}

/* openat2(2) (Linux 5.6+): flags and mode are in the struct open_how it points to. */
SEC("tp/syscalls/sys_enter_openat2")
int openat2_enter(struct trace_event_raw_sys_enter* ctx) {
    struct open_how how = {};

    bpf_probe_read_user(&how, sizeof(how), (const void*)ctx->args[2]);
    return on_enter((const char*)ctx->args[1], (__u32)how.flags, (__u32)how.mode,
                    OPENSNOOP_OPENAT2);
}

SEC("tp/syscalls/sys_exit_openat2")
int openat2_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}
