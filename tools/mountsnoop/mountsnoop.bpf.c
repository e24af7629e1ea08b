/* mountsnoop: one record per mount(2), umount(2), fsopen(2), fsconfig(2), fsmount(2) and
 * move_mount(2) call, with its arguments and result.
 *
 * Each call has an entry and an exit tracepoint (tp/syscalls/sys_enter_X, sys_exit_X). The
 * entry program applies the filters on the caller (-p, -t) and keeps the arguments under the
 * thread ID; the exit program reads the strings they point to and sends one record through the
 * library's event stream. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "mountsnoop.h"

/* A record is larger than the library's default scratch slot (perf buffer path). */
#define CT_EVENT_MAX_BYTES sizeof(struct mountsnoop_event)
#include <coretrace/filter.bpf.h>
#include <coretrace/syscall_args.bpf.h>
#include <coretrace/events.bpf.h>

char LICENSE[] SEC("license") = "GPL";

/* fsconfig(2) commands whose value is a string (FSCONFIG_SET_STRING, SET_PATH, SET_PATH_EMPTY). */
#define FSCONFIG_SET_STRING_CMD 1
#define FSCONFIG_SET_PATH_CMD 3
#define FSCONFIG_SET_PATH_EMPTY_CMD 4

/* Thread ID -> the call it is in. An entry whose exit was never seen (the call began before the
 * exit program attached) is replaced by the thread's next call. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct mountsnoop_args);
} start SEC(".maps");

/* Calls that could not be followed because `start` was full: counted as lost. */
__u64 args_dropped = 0;

static __always_inline int on_enter(struct mountsnoop_args* args) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;

    if (!ct_pid_selected(id >> 32, tid) || !ct_current_uid_selected() ||
        !ct_current_cgroup_selected())
        return 0;
    args->ts_ns = bpf_ktime_get_ns();
    ct_args_keep(&start, tid, args, &args_dropped);
    return 0;
}

/* Reads a user string into `dst` (`size` bytes): "" when absent or unreadable, never stale
 * bytes. Returns `bit` when the string was longer than the field and was cut, else 0. */
static __always_inline __u32 read_string(char* dst, __u32 size, __u64 src, __u32 bit) {
    long len;
    char next = 0;

    dst[0] = '\0';
    if (!src)
        return 0;
    len = bpf_probe_read_user_str(dst, size, (const void*)src);
    if (len <= 0) {
        dst[0] = '\0';
        return 0;
    }
    if (len < size)
        return 0;
    /* The field is full: the whole string, or only its first size - 1 bytes? */
    if (bpf_probe_read_user(&next, 1, (const char*)src + size - 1) || next != '\0')
        return bit;
    return 0;
}

static __always_inline int on_exit(void* ctx, long ret) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct mountsnoop_event* event;
    struct mountsnoop_args* args;
    struct task_struct* task;
    __u32 cmd;

    args = bpf_map_lookup_elem(&start, &tid);
    if (!args)
        return 0;
    event = ct_event_reserve(sizeof(*event));
    if (!event)
        goto done;
    task = (struct task_struct*)bpf_get_current_task();
    event->ts_ns = bpf_ktime_get_ns();
    event->delta_ns = event->ts_ns - args->ts_ns;
    event->flags = args->flags;
    event->pid = id >> 32;
    event->tid = tid;
    event->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
    event->ret = (__s32)ret;
    event->op = args->op;
    event->fd = args->fd;
    event->to_dfd = args->to_dfd;
    event->cmd = args->cmd;
    event->aux = args->aux;
    event->attr_flags = args->attr_flags;
    event->pad = 0;
    bpf_get_current_comm(event->comm, sizeof(event->comm));

    event->truncated =
        read_string(event->source, sizeof(event->source), args->source, MOUNTSNOOP_SOURCE);
    event->truncated |=
        read_string(event->target, sizeof(event->target), args->target, MOUNTSNOOP_TARGET);
    event->truncated |=
        read_string(event->fstype, sizeof(event->fstype), args->fstype, MOUNTSNOOP_FSTYPE);
    event->truncated |= read_string(event->key, sizeof(event->key), args->key, MOUNTSNOOP_KEY);
    /* fsconfig's value is a string only for some commands (a blob or nothing for others). */
    cmd = args->cmd;
    if (args->op != MOUNTSNOOP_FSCONFIG || cmd == FSCONFIG_SET_STRING_CMD ||
        cmd == FSCONFIG_SET_PATH_CMD || cmd == FSCONFIG_SET_PATH_EMPTY_CMD)
        event->truncated |=
            read_string(event->data, sizeof(event->data), args->data, MOUNTSNOOP_DATA);
    else
        event->data[0] = '\0';
    ct_event_submit(ctx, event, sizeof(*event));
done:
    bpf_map_delete_elem(&start, &tid);
    return 0;
}

/* mount(source, target, type, flags, data) */
SEC("tp/syscalls/sys_enter_mount")
int mount_enter(struct trace_event_raw_sys_enter* ctx) {
    struct mountsnoop_args args = {.op = MOUNTSNOOP_MOUNT};

    args.source = ctx->args[0];
    args.target = ctx->args[1];
    args.fstype = ctx->args[2];
    args.flags = ctx->args[3];
    args.data = ctx->args[4];
    return on_enter(&args);
}

SEC("tp/syscalls/sys_exit_mount")
int mount_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}

/* umount2(target, flags); the kernel's tracepoint is named umount */
SEC("tp/syscalls/sys_enter_umount")
int umount_enter(struct trace_event_raw_sys_enter* ctx) {
    struct mountsnoop_args args = {.op = MOUNTSNOOP_UMOUNT};

    args.target = ctx->args[0];
    args.flags = ctx->args[1];
    return on_enter(&args);
}

SEC("tp/syscalls/sys_exit_umount")
int umount_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}

/* fsopen(fs_name, flags) */
SEC("tp/syscalls/sys_enter_fsopen")
int fsopen_enter(struct trace_event_raw_sys_enter* ctx) {
    struct mountsnoop_args args = {.op = MOUNTSNOOP_FSOPEN};

    args.fstype = ctx->args[0];
    args.flags = (__u32)ctx->args[1];
    return on_enter(&args);
}

SEC("tp/syscalls/sys_exit_fsopen")
int fsopen_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}

/* fsconfig(fd, cmd, key, value, aux) */
SEC("tp/syscalls/sys_enter_fsconfig")
int fsconfig_enter(struct trace_event_raw_sys_enter* ctx) {
    struct mountsnoop_args args = {.op = MOUNTSNOOP_FSCONFIG};

    args.fd = (__s32)ctx->args[0];
    args.cmd = (__u32)ctx->args[1];
    args.key = ctx->args[2];
    args.data = ctx->args[3];
    args.aux = (__s32)ctx->args[4];
    return on_enter(&args);
}

SEC("tp/syscalls/sys_exit_fsconfig")
int fsconfig_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}

/* fsmount(fs_fd, flags, attr_flags) */
SEC("tp/syscalls/sys_enter_fsmount")
int fsmount_enter(struct trace_event_raw_sys_enter* ctx) {
    struct mountsnoop_args args = {.op = MOUNTSNOOP_FSMOUNT};

    args.fd = (__s32)ctx->args[0];
    args.flags = (__u32)ctx->args[1];
    args.attr_flags = (__u32)ctx->args[2];
    return on_enter(&args);
}

SEC("tp/syscalls/sys_exit_fsmount")
int fsmount_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}

/* move_mount(from_dfd, from_pathname, to_dfd, to_pathname, flags) */
SEC("tp/syscalls/sys_enter_move_mount")
int move_mount_enter(struct trace_event_raw_sys_enter* ctx) {
    struct mountsnoop_args args = {.op = MOUNTSNOOP_MOVE_MOUNT};

    args.fd = (__s32)ctx->args[0];
    args.source = ctx->args[1];
    args.to_dfd = (__s32)ctx->args[2];
    args.target = ctx->args[3];
    args.flags = (__u32)ctx->args[4];
    return on_enter(&args);
}

SEC("tp/syscalls/sys_exit_move_mount")
int move_mount_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}
