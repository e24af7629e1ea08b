/* filetop: reads and writes per file and thread, from system call tracepoints.
 *
 * libbpf-tools hooks vfs_read() and vfs_write(), which are handed the struct file. Here the
 * entry of each read/write family call finds the struct file behind its descriptor in the
 * calling task's fd table (coretrace/files.bpf.h) and keeps it under the thread ID; the exit
 * adds the call, and the bytes it returned, to that file's counters for the thread. The file
 * stays valid in between: the system call itself holds it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/files.bpf.h>
#include "filetop.h"

char LICENSE[] SEC("license") = "GPL";

/* Without -a, only regular files are counted. */
const volatile bool regular_only = true;

struct call {
    struct file* file;
    __u32 op;
    __u32 pad;
};

/* Thread ID -> the read or write it is in. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct call);
} start SEC(".maps");

/* Counters, read and deleted by user space at each interval. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct filetop_key);
    __type(value, struct filetop_stat);
} entries SEC(".maps");

/* Scratch for a new entry (too big for the BPF stack). */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct filetop_stat);
} scratch SEC(".maps");

/* Calls not counted: `start` full, or `entries` full. */
__u64 calls_dropped = 0;

static __always_inline int on_enter(long fd, __u32 op) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct call call = {};
    struct file* file;
    __u32 mode;

    if (!ct_current_selected())
        return 0;
    file = ct_current_file(fd);
    if (!file)
        return 0;
    mode = BPF_CORE_READ(file, f_inode, i_mode);
    if (regular_only && (mode & CT_S_IFMT) != CT_S_IFREG)
        return 0;
    call.file = file;
    call.op = op;
    if (bpf_map_update_elem(&start, &tid, &call, BPF_ANY))
        __sync_fetch_and_add(&calls_dropped, 1);
    return 0;
}

static __always_inline struct filetop_stat* entry_for(struct file* file, __u64 id) {
    struct filetop_key key = {};
    struct filetop_stat* stat;
    struct inode* inode = BPF_CORE_READ(file, f_inode);
    __u32 zero = 0, mode;
    long err;

    key.ino = BPF_CORE_READ(inode, i_ino);
    key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
    key.rdev = BPF_CORE_READ(inode, i_rdev);
    key.pid = id >> 32;
    key.tid = (__u32)id;
    stat = bpf_map_lookup_elem(&entries, &key);
    if (stat)
        return stat;

    stat = bpf_map_lookup_elem(&scratch, &zero);
    if (!stat)
        return NULL;
    __builtin_memset(stat, 0, sizeof(*stat));
    stat->pid = key.pid;
    stat->tid = key.tid;
    bpf_get_current_comm(stat->comm, sizeof(stat->comm));
    ct_file_name(file, stat->name, sizeof(stat->name));
    mode = BPF_CORE_READ(inode, i_mode) & CT_S_IFMT;
    stat->type = mode == CT_S_IFREG ? 'R' : mode == CT_S_IFSOCK ? 'S' : 'O';
    err = bpf_map_update_elem(&entries, &key, stat, BPF_NOEXIST);
    if (err && err != -17 /* EEXIST: another CPU made it first */)
        return NULL;
    return bpf_map_lookup_elem(&entries, &key);
}

static __always_inline int on_exit(long ret) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct filetop_stat* stat;
    struct call* stored;
    struct call call;
    __u64 bytes = ret > 0 ? ret : 0;

    stored = bpf_map_lookup_elem(&start, &tid);
    if (!stored)
        return 0;
    call = *stored;
    bpf_map_delete_elem(&start, &tid);

    stat = entry_for(call.file, id);
    if (!stat) {
        __sync_fetch_and_add(&calls_dropped, 1);
        return 0;
    }
    if (call.op == FILETOP_READ) {
        __sync_fetch_and_add(&stat->reads, 1);
        __sync_fetch_and_add(&stat->read_bytes, bytes);
    } else {
        __sync_fetch_and_add(&stat->writes, 1);
        __sync_fetch_and_add(&stat->write_bytes, bytes);
    }
    return 0;
}

/* Every call of the family takes its descriptor as the first argument. */
#define TRACE(call, op)                                                                            \
    SEC("tp/syscalls/sys_enter_" #call)                                                            \
    int call##_enter(struct trace_event_raw_sys_enter* ctx) {                                      \
        return on_enter((int)ctx->args[0], op);                                                    \
    }                                                                                              \
    SEC("tp/syscalls/sys_exit_" #call)                                                             \
    int call##_exit(struct trace_event_raw_sys_exit* ctx) {                                        \
        return on_exit(ctx->ret);                                                                  \
    }

TRACE(read, FILETOP_READ)
TRACE(readv, FILETOP_READ)
TRACE(pread64, FILETOP_READ)
TRACE(preadv, FILETOP_READ)
TRACE(preadv2, FILETOP_READ)
TRACE(write, FILETOP_WRITE)
TRACE(writev, FILETOP_WRITE)
TRACE(pwrite64, FILETOP_WRITE)
TRACE(pwritev, FILETOP_WRITE)
TRACE(pwritev2, FILETOP_WRITE)
