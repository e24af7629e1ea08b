/* syncsnoop: one record per sync(2), syncfs(2), fsync(2), fdatasync(2), msync(2) and
 * sync_file_range(2) call, as it enters (bcc's syncsnoop traces sync(2) only, at entry).
 * Filters (-p, -t, -c) are applied here. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/events.bpf.h>
#include "syncsnoop.h"

char LICENSE[] SEC("license") = "GPL";

/* Each program passes only the arguments its call has: a tracepoint program that reads past the
 * end of its event's record (args[1] of sync's, which has none) is refused at attach (EACCES). */
static __always_inline int on_enter(void* ctx, __u32 syscall, __u64 arg0, __u64 arg1, __u64 arg2,
                                    __u64 arg3) {
    struct syncsnoop_event* event;
    __u64 id;

    if (!ct_current_selected())
        return 0;
    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    id = bpf_get_current_pid_tgid();
    event->ts_ns = bpf_ktime_get_ns();
    event->arg0 = arg0;
    event->arg1 = arg1;
    event->arg2 = arg2;
    event->arg3 = arg3;
    event->pid = id >> 32;
    event->tid = (__u32)id;
    event->syscall = syscall;
    event->pad = 0;
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}

SEC("tp/syscalls/sys_enter_sync")
int sync_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter(ctx, SYNCSNOOP_SYNC, 0, 0, 0, 0);
}

SEC("tp/syscalls/sys_enter_syncfs")
int syncfs_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter(ctx, SYNCSNOOP_SYNCFS, ctx->args[0], 0, 0, 0);
}

SEC("tp/syscalls/sys_enter_fsync")
int fsync_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter(ctx, SYNCSNOOP_FSYNC, ctx->args[0], 0, 0, 0);
}

SEC("tp/syscalls/sys_enter_fdatasync")
int fdatasync_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter(ctx, SYNCSNOOP_FDATASYNC, ctx->args[0], 0, 0, 0);
}

SEC("tp/syscalls/sys_enter_msync")
int msync_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter(ctx, SYNCSNOOP_MSYNC, ctx->args[0], ctx->args[1], ctx->args[2], 0);
}

SEC("tp/syscalls/sys_enter_sync_file_range")
int sync_file_range_enter(struct trace_event_raw_sys_enter* ctx) {
    return on_enter(ctx, SYNCSNOOP_SYNC_FILE_RANGE, ctx->args[0], ctx->args[1], ctx->args[2],
                    ctx->args[3]);
}
