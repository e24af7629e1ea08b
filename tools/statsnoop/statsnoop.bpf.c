/* statsnoop: one record per stat-family call (statfs, stat, lstat, newfstatat, statx), with the
 * path the caller passed and the result.
 *
 * Each call has an entry and an exit tracepoint (tp/syscalls/sys_enter_X, sys_exit_X). The
 * entry program applies the filters on the caller (-p, --tid) and keeps the arguments under
 * the thread ID; the exit program takes them back, applies -x, and sends one record through the
 * library's event stream. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/syscall_args.bpf.h>
#include <coretrace/events.bpf.h>
#include "statsnoop.h"

char LICENSE[] SEC("license") = "GPL";

#define AT_FDCWD_VALUE -100

/* -x: only calls that failed. */
const volatile bool targ_failed = false;

/* The arguments of a call in progress, from its entry to its exit. */
struct stat_args {
    __u64 path; /* user-space pointer (0: none) */
    __s32 dirfd;
    __u32 flags;
    __u32 syscall;
};

/* Thread ID -> the stat call it is in. An entry whose exit was never seen (the call began before
 * the exit program attached) is replaced by the thread's next call. Sized by user space. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct stat_args);
} start SEC(".maps");

/* Calls that could not be followed because `start` was full: counted as lost. */
__u64 args_dropped = 0;

static __always_inline int on_enter(__u64 path, __s32 dirfd, __u32 flags, __u32 syscall) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct stat_args args = {};

    if (!ct_pid_selected(id >> 32, tid) || !ct_current_uid_selected() ||
        !ct_current_cgroup_selected())
        return 0;
    args.path = path;
    args.dirfd = dirfd;
    args.flags = flags;
    args.syscall = syscall;
    ct_args_keep(&start, tid, &args, &args_dropped);
    return 0;
}

static __always_inline int on_exit(void* ctx, long ret) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct statsnoop_event* event;
    struct stat_args args;
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
    event->ret = (__s32)ret;
    event->dirfd = args.dirfd;
    event->flags = args.flags;
    event->syscall = args.syscall;
    event->path_truncated = 0;
    event->path_null = args.path == 0;
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    event->path[0] = '\0';
    if (args.path) {
        len = bpf_probe_read_user_str(event->path, sizeof(event->path), (const void*)args.path);
        if (len <= 0) {
            /* Unreadable: empty, never bytes left from an earlier record. */
            event->path[0] = '\0';
        } else if (len == STATSNOOP_PATH_LEN) {
            char next = 0;

            /* The buffer is full: the whole path, or its first 255 bytes? */
            if (bpf_probe_read_user(&next, 1, (const char*)args.path + STATSNOOP_PATH_LEN - 1) ||
                next != '\0')
                event->path_truncated = 1;
        }
    }
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}

/* statfs(path, buf) */
SEC("tp/syscalls/sys_enter_statfs")
int statfs_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter(ctx->args[0], AT_FDCWD_VALUE, 0, STATSNOOP_STATFS);
}

SEC("tp/syscalls/sys_exit_statfs")
int statfs_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}

/* stat(path, buf), called newstat in the kernel */
SEC("tp/syscalls/sys_enter_newstat")
int newstat_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter(ctx->args[0], AT_FDCWD_VALUE, 0, STATSNOOP_NEWSTAT);
}

SEC("tp/syscalls/sys_exit_newstat")
int newstat_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}

/* lstat(path, buf) */
SEC("tp/syscalls/sys_enter_newlstat")
int newlstat_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter(ctx->args[0], AT_FDCWD_VALUE, 0, STATSNOOP_NEWLSTAT);
}

SEC("tp/syscalls/sys_exit_newlstat")
int newlstat_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}

/* newfstatat(dirfd, path, buf, flags): glibc's stat, lstat, fstatat and (2.33+) fstat */
SEC("tp/syscalls/sys_enter_newfstatat")
int newfstatat_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter(ctx->args[1], (__s32)ctx->args[0], (__u32)ctx->args[3], STATSNOOP_NEWFSTATAT);
}

SEC("tp/syscalls/sys_exit_newfstatat")
int newfstatat_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}

/* statx(dirfd, path, flags, mask, buf) */
SEC("tp/syscalls/sys_enter_statx")
int statx_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter(ctx->args[1], (__s32)ctx->args[0], (__u32)ctx->args[2], STATSNOOP_STATX);
}

SEC("tp/syscalls/sys_exit_statx")
int statx_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}
