/* vfsstat: counts of file system operations, from system call tracepoints.
 *
 * libbpf-tools counts calls of the kernel's vfs_read, vfs_write, vfs_fsync, vfs_open,
 * vfs_create, vfs_unlink, vfs_mkdir and vfs_rmdir. Here each column counts the system calls
 * that lead there instead:
 *   READ, WRITE: entries of read/readv/pread64/preadv/preadv2 and write/writev/pwrite64/pwritev/
 *                pwritev2 (every call, whatever it returns);
 *   FSYNC:       entries of fsync and fdatasync;
 *   OPEN:        successful returns of open/openat/openat2/creat/open_by_handle_at;
 *   CREATE:      those of them whose new file has FMODE_CREATED (the open made it), and
 *                successful mknod/mknodat of a regular file;
 *   UNLINK, MKDIR, RMDIR: successful unlink/unlinkat, mkdir/mkdirat, rmdir/unlinkat(AT_REMOVEDIR).
 * Counters are per CPU; user space sums them and takes differences, so nothing is reset. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/files.bpf.h>
#include "vfsstat.h"

char LICENSE[] SEC("license") = "GPL";

#define AT_REMOVEDIR 0x200

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, VFSSTAT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

/* Thread ID -> the counter its mknod(at)/unlinkat call adds to if it succeeds (those calls'
 * exits do not show their arguments). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, __u32);
} pending SEC(".maps");

/* Calls not counted because `pending` was full. */
__u64 pending_dropped = 0;

static __always_inline void add(__u32 stat) {
    __u64* count = bpf_map_lookup_elem(&counts, &stat);

    if (count)
        *count += 1;
}

static __always_inline int count_call(__u32 stat) {
    if (ct_current_selected())
        add(stat);
    return 0;
}

static __always_inline int count_success(long ret, __u32 stat) {
    if (ret == 0 && ct_current_selected())
        add(stat);
    return 0;
}

static __always_inline int opened(long ret) {
    struct file* file;

    if (ret < 0 || !ct_current_selected())
        return 0;
    add(VFSSTAT_OPEN);
    file = ct_current_file(ret);
    if (file && (BPF_CORE_READ(file, f_mode) & CT_FMODE_CREATED))
        add(VFSSTAT_CREATE);
    return 0;
}

static __always_inline int remember(__u32 stat) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();

    if (!ct_current_selected())
        return 0;
    if (bpf_map_update_elem(&pending, &tid, &stat, BPF_ANY))
        __sync_fetch_and_add(&pending_dropped, 1);
    return 0;
}

static __always_inline int settle(long ret) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    __u32* stat = bpf_map_lookup_elem(&pending, &tid);

    if (!stat)
        return 0;
    if (ret == 0)
        add(*stat);
    bpf_map_delete_elem(&pending, &tid);
    return 0;
}

static __always_inline int mknod_mode(__u32 mode) {
    __u32 type = mode & CT_S_IFMT;

    /* mknod of a regular file (type 0 means regular) goes through vfs_create. */
    return type == 0 || type == CT_S_IFREG ? remember(VFSSTAT_CREATE) : 0;
}

#define ON_ENTER(call, stat)                                                                       \
    SEC("tp/syscalls/sys_enter_" #call)                                                            \
    int call##_enter(struct trace_event_raw_sys_enter* ctx) {                                      \
        return count_call(stat);                                                                   \
    }

ON_ENTER(read, VFSSTAT_READ)
ON_ENTER(readv, VFSSTAT_READ)
ON_ENTER(pread64, VFSSTAT_READ)
ON_ENTER(preadv, VFSSTAT_READ)
ON_ENTER(preadv2, VFSSTAT_READ)
ON_ENTER(write, VFSSTAT_WRITE)
ON_ENTER(writev, VFSSTAT_WRITE)
ON_ENTER(pwrite64, VFSSTAT_WRITE)
ON_ENTER(pwritev, VFSSTAT_WRITE)
ON_ENTER(pwritev2, VFSSTAT_WRITE)
ON_ENTER(fsync, VFSSTAT_FSYNC)
ON_ENTER(fdatasync, VFSSTAT_FSYNC)

#define ON_OPEN_EXIT(call)                                                                         \
    SEC("tp/syscalls/sys_exit_" #call)                                                             \
    int call##_exit(struct trace_event_raw_sys_exit* ctx) {                                        \
        return opened(ctx->ret);                                                                   \
    }

ON_OPEN_EXIT(open)
ON_OPEN_EXIT(openat)
ON_OPEN_EXIT(openat2)
ON_OPEN_EXIT(creat)
ON_OPEN_EXIT(open_by_handle_at)

#define ON_SUCCESS(call, stat)                                                                     \
    SEC("tp/syscalls/sys_exit_" #call)                                                             \
    int call##_exit(struct trace_event_raw_sys_exit* ctx) {                                        \
        return count_success(ctx->ret, stat);                                                      \
    }

ON_SUCCESS(unlink, VFSSTAT_UNLINK)
ON_SUCCESS(mkdir, VFSSTAT_MKDIR)
ON_SUCCESS(mkdirat, VFSSTAT_MKDIR)
ON_SUCCESS(rmdir, VFSSTAT_RMDIR)

SEC("tp/syscalls/sys_enter_unlinkat")
int unlinkat_enter(struct trace_event_raw_sys_enter* ctx) {
    return remember(ctx->args[2] & AT_REMOVEDIR ? VFSSTAT_RMDIR : VFSSTAT_UNLINK);
}

SEC("tp/syscalls/sys_enter_mknod")
int mknod_enter(struct trace_event_raw_sys_enter* ctx) {
    return mknod_mode((__u32)ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_mknodat")
int mknodat_enter(struct trace_event_raw_sys_enter* ctx) {
    return mknod_mode((__u32)ctx->args[2]);
}

#define ON_SETTLE(call)                                                                            \
    SEC("tp/syscalls/sys_exit_" #call)                                                             \
    int call##_exit(struct trace_event_raw_sys_exit* ctx) {                                        \
        return settle(ctx->ret);                                                                   \
    }

ON_SETTLE(unlinkat)
ON_SETTLE(mknod)
ON_SETTLE(mknodat)
