/* fsslower: file system calls of one file system type that took at least min_ns, one record
 * each.
 *
 * libbpf-tools hooks the file system's own functions (ext4_file_read_iter, ...) with fentry or
 * kprobes; neither exists on every kernel. Here the system call is timed instead, from
 * raw_syscalls:sys_enter to sys_exit, for read(2), pread64(2), readv(2), preadv(2),
 * preadv2(2) (R), their write counterparts (W), open(2), openat(2), openat2(2) (O) and fsync(2),
 * fdatasync(2) (F). The descriptor's struct file is found through the current task
 * (task->files->fdt->fd[fd]) and the call is kept only when its file system's type name is the
 * one asked for. So the latency includes the VFS and page cache around the file system's work,
 * and calls that reach the file system otherwise (mmap faults, sendfile, splice, io_uring, aio,
 * copy_file_range) are not seen. System call numbers are x86-64's (the objects are built for
 * x86-64 only). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/syscall_args.bpf.h>
#include <coretrace/events.bpf.h>
#include <coretrace/files.bpf.h>
#include "fsslower.h"

char LICENSE[] SEC("license") = "GPL";

/* -t: the file system type name (targ_fs_len bytes). */
const volatile char targ_fs[CT_FS_NAME_LEN] = {};
const volatile __u32 targ_fs_len = 0;
/* -m: the least latency reported, in nanoseconds. */
const volatile __u64 min_ns = 0;

/* A call in progress, from its entry to its exit. */
struct call {
    __u64 start_ns;
    __u64 file; /* struct file * (R, W, F) */
    __s64 pos;
    __u32 op;
};

/* Thread ID -> the call it is in. Sized by user space. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct call);
} start SEC(".maps");

/* Calls that could not be followed because `start` was full: counted as lost. */
__u64 calls_dropped = 0;

/* x86-64 system call numbers. */
enum {
    NR_read = 0,
    NR_write = 1,
    NR_open = 2,
    NR_pread64 = 17,
    NR_pwrite64 = 18,
    NR_readv = 19,
    NR_writev = 20,
    NR_fsync = 74,
    NR_fdatasync = 75,
    NR_openat = 257,
    NR_preadv = 295,
    NR_pwritev = 296,
    NR_preadv2 = 327,
    NR_pwritev2 = 328,
    NR_openat2 = 437,
};

static __always_inline int on_enter(long id, const unsigned long* args) {
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)pid_tgid;
    struct call call = {};
    struct file* file;
    bool explicit_pos = false;

    switch (id) {
    case NR_read:
    case NR_readv:
        call.op = FSSLOWER_READ;
        break;
    case NR_pread64:
    case NR_preadv:
    case NR_preadv2:
        call.op = FSSLOWER_READ;
        explicit_pos = (long)args[3] != -1;
        break;
    case NR_write:
    case NR_writev:
        call.op = FSSLOWER_WRITE;
        break;
    case NR_pwrite64:
    case NR_pwritev:
    case NR_pwritev2:
        call.op = FSSLOWER_WRITE;
        explicit_pos = (long)args[3] != -1;
        break;
    case NR_fsync:
    case NR_fdatasync:
        call.op = FSSLOWER_FSYNC;
        break;
    case NR_open:
    case NR_openat:
    case NR_openat2:
        call.op = FSSLOWER_OPEN;
        break;
    default:
        return 0;
    }
    if (!ct_pid_selected(pid_tgid >> 32, tid))
        return 0;
    if (call.op != FSSLOWER_OPEN) {
        /* The file system is known from the descriptor now; an open's only at its exit. */
        file = ct_current_file((long)args[0]);
        if (!ct_file_fs_is(file, targ_fs, targ_fs_len))
            return 0;
        call.file = (__u64)(unsigned long)file;
        call.pos = explicit_pos ? (__s64)args[3] : ct_file_pos(file);
    }
    call.start_ns = bpf_ktime_get_ns();
    ct_args_keep(&start, tid, &call, &calls_dropped);
    return 0;
}

static __always_inline int on_exit(void* ctx, long ret) {
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)pid_tgid;
    struct fsslower_event* event;
    struct call call;
    struct file* file;
    __u64 now, delta;

    if (!ct_args_take(&start, tid, &call, sizeof(call)))
        return 0;
    now = bpf_ktime_get_ns();
    delta = now - call.start_ns;
    if (delta < min_ns)
        return 0;
    if (call.op == FSSLOWER_OPEN) {
        if (ret < 0)
            return 0; /* a failed open seldom reaches a file system, and names no file */
        file = ct_current_file(ret);
        if (!ct_file_fs_is(file, targ_fs, targ_fs_len))
            return 0;
    } else {
        file = (struct file*)(unsigned long)call.file;
    }

    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    event->end_ns = now;
    event->delta_ns = delta;
    event->size = call.op == FSSLOWER_FSYNC  ? FSSLOWER_WHOLE_FILE
                  : call.op == FSSLOWER_OPEN ? 0
                                             : ret;
    event->offset = call.op == FSSLOWER_OPEN ? 0 : call.pos;
    event->pid = pid_tgid >> 32;
    event->tid = tid;
    event->op = call.op;
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    event->name_truncated = ct_file_name(file, event->file, sizeof(event->file));
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(fsslower_enter_raw, struct pt_regs* regs, long id) {
    unsigned long args[4] = {};

    args[0] = BPF_CORE_READ(regs, di);
    args[3] = BPF_CORE_READ(regs, r10);
    return on_enter(id, args);
}

SEC("tp/raw_syscalls/sys_enter")
int fsslower_enter_tp(struct trace_event_raw_sys_enter* ctx) {
    unsigned long args[4] = {};

    args[0] = ctx->args[0];
    args[3] = ctx->args[3];
    return on_enter(ctx->id, args);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(fsslower_exit_raw, struct pt_regs* regs, long ret) {
    return on_exit(ctx, ret);
}

SEC("tp/raw_syscalls/sys_exit")
int fsslower_exit_tp(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx, ctx->ret);
}
