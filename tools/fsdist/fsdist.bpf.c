/* fsdist: latency of the file system calls of one file system type, as one log2 histogram per
 * operation (read, write, open, fsync, getattr).
 *
 * libbpf-tools hooks the file system's own functions (ext4_file_read_iter, ext4_file_open,
 * ext4_sync_file, ext4_getattr, ...) with fentry or kprobes; neither exists on every kernel.
 * Here the system call is timed, from raw_syscalls:sys_enter to sys_exit: read(2), pread64(2),
 * readv(2), preadv(2), preadv2(2); their write counterparts; open(2), openat(2), openat2(2);
 * fsync(2), fdatasync(2); and, as getattr, fstat(2) and the descriptor forms of newfstatat(2)
 * and statx(2) (AT_EMPTY_PATH with an empty path, which is what glibc's fstat() makes). The
 * descriptor's struct file is found through the current task (task->files->fdt->fd[fd]) and the
 * call is kept when its file system's type name is the one asked for. A stat by path names no
 * descriptor and is not seen. System call numbers are x86-64's. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/files.bpf.h>
#include <coretrace/log2.bpf.h>
#include "fsdist.h"

char LICENSE[] SEC("license") = "GPL";

/* -t: the file system type name (targ_fs_len bytes). */
const volatile char targ_fs[CT_FS_NAME_LEN] = {};
const volatile __u32 targ_fs_len = 0;
/* -m: milliseconds instead of microseconds. */
const volatile bool targ_ms = false;

struct call {
    __u64 start_ns;
    __u64 path; /* getattr by newfstatat/statx: the path, which must be empty */
    __u32 op;
    __u32 check_path;
};

/* Thread ID -> the call it is in. Sized by user space. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct call);
} start SEC(".maps");

/* Operation -> histogram. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, FSDIST_OPS);
    __type(key, __u32);
    __type(value, struct fsdist_hist);
} hists SEC(".maps");

/* Calls that could not be followed because `start` was full. */
__u64 calls_dropped = 0;

static struct fsdist_hist empty_hist;

#define CT_AT_EMPTY_PATH 0x1000

/* x86-64 system call numbers. */
enum {
    NR_read = 0,
    NR_write = 1,
    NR_open = 2,
    NR_fstat = 5,
    NR_pread64 = 17,
    NR_pwrite64 = 18,
    NR_readv = 19,
    NR_writev = 20,
    NR_fsync = 74,
    NR_fdatasync = 75,
    NR_openat = 257,
    NR_newfstatat = 262,
    NR_preadv = 295,
    NR_pwritev = 296,
    NR_preadv2 = 327,
    NR_pwritev2 = 328,
    NR_statx = 332,
    NR_openat2 = 437,
};

/* A stat by descriptor: AT_EMPTY_PATH and a NULL or empty path. The path is read at the exit:
 * at the entry its page may not be present yet (a string in a forked child's copy of libc is
 * faulted in by the system call itself), and a BPF read cannot fault it in. */
static __always_inline bool by_descriptor(unsigned long path) {
    char first = 1;

    return !path || (!bpf_probe_read_user(&first, 1, (const void*)path) && first == '\0');
}

static __always_inline int on_enter(long id, const unsigned long* args) {
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)pid_tgid;
    struct call call = {};

    switch (id) {
    case NR_read:
    case NR_readv:
    case NR_pread64:
    case NR_preadv:
    case NR_preadv2:
        call.op = FSDIST_READ;
        break;
    case NR_write:
    case NR_writev:
    case NR_pwrite64:
    case NR_pwritev:
    case NR_pwritev2:
        call.op = FSDIST_WRITE;
        break;
    case NR_fsync:
    case NR_fdatasync:
        call.op = FSDIST_FSYNC;
        break;
    case NR_open:
    case NR_openat:
    case NR_openat2:
        call.op = FSDIST_OPEN;
        break;
    case NR_fstat:
        call.op = FSDIST_GETATTR;
        break;
    case NR_newfstatat:
    case NR_statx:
        if (!((id == NR_statx ? args[2] : args[3]) & CT_AT_EMPTY_PATH))
            return 0;
        call.op = FSDIST_GETATTR;
        call.path = args[1];
        call.check_path = 1;
        break;
    default:
        return 0;
    }
    if (!ct_pid_selected(pid_tgid >> 32, tid))
        return 0;
    /* The file system is known from the descriptor now; an open's only at its exit. */
    if (call.op != FSDIST_OPEN &&
        !ct_file_fs_is(ct_current_file((long)args[0]), targ_fs, targ_fs_len))
        return 0;
    call.start_ns = bpf_ktime_get_ns();
    if (bpf_map_update_elem(&start, &tid, &call, BPF_ANY))
        __sync_fetch_and_add(&calls_dropped, 1);
    return 0;
}

static __always_inline int on_exit(long ret) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct fsdist_hist* hist;
    struct call* stored;
    struct call call;
    __u64 delta;

    stored = bpf_map_lookup_elem(&start, &tid);
    if (!stored)
        return 0;
    call = *stored;
    bpf_map_delete_elem(&start, &tid);
    delta = bpf_ktime_get_ns() - call.start_ns;
    if (call.check_path && !by_descriptor(call.path))
        return 0;
    if (call.op == FSDIST_OPEN &&
        (ret < 0 || !ct_file_fs_is(ct_current_file(ret), targ_fs, targ_fs_len)))
        return 0;

    hist = bpf_map_lookup_elem(&hists, &call.op);
    if (!hist) {
        bpf_map_update_elem(&hists, &call.op, &empty_hist, BPF_NOEXIST);
        hist = bpf_map_lookup_elem(&hists, &call.op);
        if (!hist)
            return 0;
    }
    delta /= targ_ms ? 1000000 : 1000;
    __sync_fetch_and_add(&hist->slots[ct_log2_slot(delta, FSDIST_MAX_SLOTS)], 1);
    return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(fsdist_enter_raw, struct pt_regs* regs, long id) {
    unsigned long args[4];

    args[0] = BPF_CORE_READ(regs, di);
    args[1] = BPF_CORE_READ(regs, si);
    args[2] = BPF_CORE_READ(regs, dx);
    args[3] = BPF_CORE_READ(regs, r10);
    return on_enter(id, args);
}

SEC("tp/raw_syscalls/sys_enter")
int fsdist_enter_tp(struct trace_event_raw_sys_enter* ctx) {
    unsigned long args[4];

    args[0] = ctx->args[0];
    args[1] = ctx->args[1];
    args[2] = ctx->args[2];
    args[3] = ctx->args[3];
    return on_enter(ctx->id, args);
}

SEC("raw_tp/sys_exit")
int BPF_PROG(fsdist_exit_raw, struct pt_regs* regs, long ret) {
    return on_exit(ret);
}

SEC("tp/raw_syscalls/sys_exit")
int fsdist_exit_tp(struct trace_event_raw_sys_exit* ctx) {
    return on_exit(ctx->ret);
}
