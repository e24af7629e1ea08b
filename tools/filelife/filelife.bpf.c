/* filelife: files created and deleted while tracing, with their age at deletion.
 *
 * libbpf-tools hooks vfs_create(), vfs_open() and security_inode_create() for creation and
 * vfs_unlink() for deletion, all handed the dentry. Here:
 *
 * Creation: the entry of open/openat/openat2/creat with O_CREAT keeps, under the thread ID, a
 * key for the path as passed (a hash of its text, and the inode of the directory a relative
 * path starts from: the cwd or dirfd). At the exit, the new descriptor's struct file is found
 * in the task's fd table (coretrace/files.bpf.h); if its f_mode has FMODE_CREATED, the open
 * made the file, and a birth is stored under the file's inode (device, inode number), with
 * the path key mapped to that inode.
 *
 * Deletion, two ways:
 * - ext4:ext4_unlink_exit hands the dentry being unlinked: its inode finds the birth whoever
 *   deletes the file, by whatever path, after any rename. Only once its last link is gone
 *   (i_nlink 0) is the file reported.
 * - For files on other file systems, the exit of a successful unlink/unlinkat looks up the path
 *   key made at its entry: it finds the birth only if the file is deleted by the same path text
 *   from the same directory as it was created. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/syscall_args.bpf.h>
#include <coretrace/events.bpf.h>
#include <coretrace/files.bpf.h>
#include "filelife.h"

char LICENSE[] SEC("license") = "GPL";

#define AT_FDCWD -100
#define AT_REMOVEDIR 0x200
#define O_CREAT 0100
#define EXT4_SUPER_MAGIC 0xEF53

/* Set by user space when an ext4 unlink hook is loaded: births on ext4 are then left to it. */
const volatile bool ext4_hooked = false;

struct path_key {
    __u64 hash;     /* FNV-1a of the path text */
    __u64 base_ino; /* directory a relative path starts from; 0 for an absolute path */
    __u32 base_dev;
    __u32 pad;
};

enum pending_kind { PENDING_CREATE = 1, PENDING_DELETE = 2 };

struct pending {
    struct path_key key;
    __u32 kind;
    __u32 has_key; /* 0: the path was too long or unreadable */
};

struct birth {
    __u64 ts;
    struct path_key key;
    __u32 tgid;
    __u8 has_key;
    __u8 on_ext4;
    __u8 pad[2];
    char name[FILELIFE_NAME_LEN];
};

/* Thread ID -> the creating open or the unlink it is in. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct pending);
} start SEC(".maps");

/* Files created and not yet deleted. LRU: when full, the files created longest ago (the least
 * likely to be short-lived) are forgotten first. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 10240);
    __type(key, struct ct_inode_id);
    __type(value, struct birth);
} births SEC(".maps");

/* Path key at creation -> the file's inode, for the syscall-level match. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 10240);
    __type(key, struct path_key);
    __type(value, struct ct_inode_id);
} names SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, char[FILELIFE_PATH_LEN]);
} path_buf SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct birth);
} birth_buf SEC(".maps");

/* Calls that could not be followed because `start` was full: counted as lost. */
__u64 calls_dropped = 0;

/* The key of `upath` relative to `dfd`; false when the path cannot be read or is too long. */
static __always_inline bool make_path_key(const char* upath, long dfd, struct path_key* key) {
    __u32 zero = 0;
    char* buf = bpf_map_lookup_elem(&path_buf, &zero);
    __u64 hash = 0xcbf29ce484222325ULL;
    struct dentry* dir;
    long len;

    if (!buf)
        return false;
    len = bpf_probe_read_user_str(buf, FILELIFE_PATH_LEN, upath);
    if (len <= 1 || len >= FILELIFE_PATH_LEN)
        return false;
    for (__u32 i = 0; i < FILELIFE_PATH_LEN - 1; i++) {
        if (i >= len - 1)
            break;
        hash ^= (__u8)buf[i];
        hash *= 0x100000001b3ULL;
    }
    key->hash = hash;
    key->pad = 0;
    if (buf[0] == '/') {
        key->base_ino = 0;
        key->base_dev = 0;
        return true;
    }
    if (dfd == AT_FDCWD) {
        struct task_struct* task = (struct task_struct*)bpf_get_current_task();
        dir = BPF_CORE_READ(task, fs, pwd.dentry);
    } else {
        struct file* file = ct_current_file(dfd);
        if (!file)
            return false;
        dir = BPF_CORE_READ(file, f_path.dentry);
    }
    struct ct_inode_id id = ct_inode_id_of(BPF_CORE_READ(dir, d_inode));
    key->base_ino = id.ino;
    key->base_dev = id.dev;
    return true;
}

static __always_inline int remember(const char* upath, long dfd, __u32 kind) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct pending pending = {};

    if (!ct_current_selected())
        return 0;
    pending.kind = kind;
    pending.has_key = make_path_key(upath, dfd, &pending.key);
    ct_args_keep(&start, tid, &pending, &calls_dropped);
    return 0;
}

/* The pending call of this thread, taken out of `start`, if it is of `kind`. */
static __always_inline bool take_pending(__u32 kind, struct pending* out) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();

    return ct_args_take(&start, tid, out, sizeof(*out)) && out->kind == kind;
}

static __always_inline int on_open_exit(long ret) {
    struct pending pending;
    struct birth* birth;
    struct file* file;
    struct inode* inode;
    struct ct_inode_id id;
    __u32 zero = 0;

    if (!take_pending(PENDING_CREATE, &pending) || ret < 0)
        return 0;
    file = ct_current_file(ret);
    if (!file || !(BPF_CORE_READ(file, f_mode) & CT_FMODE_CREATED))
        return 0;
    birth = bpf_map_lookup_elem(&birth_buf, &zero);
    if (!birth)
        return 0;
    inode = BPF_CORE_READ(file, f_inode);
    id = ct_inode_id_of(inode);
    birth->ts = bpf_ktime_get_ns();
    birth->key = pending.key;
    birth->tgid = bpf_get_current_pid_tgid() >> 32;
    birth->has_key = pending.has_key;
    birth->on_ext4 = BPF_CORE_READ(inode, i_sb, s_magic) == EXT4_SUPER_MAGIC;
    ct_file_name(file, birth->name, sizeof(birth->name));
    bpf_map_update_elem(&births, &id, birth, BPF_ANY);
    if (pending.has_key)
        bpf_map_update_elem(&names, &pending.key, &id, BPF_ANY);
    return 0;
}

/* Sends the record of `birth` (the file `id`) deleted now by the current task; `dentry`, when
 * given, supplies the file's current name. Forgets the birth. */
static __always_inline void report(void* ctx, struct birth* birth, struct ct_inode_id* id,
                                   struct dentry* dentry, __u32 via) {
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    struct filelife_event* event = ct_event_reserve(sizeof(*event));

    if (event) {
        event->ts_ns = bpf_ktime_get_ns();
        event->age_ns = event->ts_ns - birth->ts;
        event->ino = id->ino;
        event->dev = id->dev;
        event->pid = pid_tgid >> 32;
        event->tid = (__u32)pid_tgid;
        event->creator_pid = birth->tgid;
        event->via = via;
        event->pad = 0;
        bpf_get_current_comm(event->comm, sizeof(event->comm));
        if (!dentry || bpf_probe_read_kernel_str(event->name, sizeof(event->name),
                                                 BPF_CORE_READ(dentry, d_name.name)) < 0)
            __builtin_memcpy(event->name, birth->name, sizeof(event->name));
        ct_event_submit(ctx, event, sizeof(*event));
    }
    if (birth->has_key)
        bpf_map_delete_elem(&names, &birth->key);
    bpf_map_delete_elem(&births, id);
}

static __always_inline int on_unlink_exit(void* ctx, long ret) {
    struct pending pending;
    struct ct_inode_id* found;
    struct ct_inode_id id;
    struct birth* birth;

    if (!take_pending(PENDING_DELETE, &pending) || ret != 0 || !pending.has_key)
        return 0;
    found = bpf_map_lookup_elem(&names, &pending.key);
    if (!found)
        return 0;
    id = *found;
    birth = bpf_map_lookup_elem(&births, &id);
    if (!birth) {
        bpf_map_delete_elem(&names, &pending.key);
        return 0;
    }
    if (birth->on_ext4 && ext4_hooked) {
        /* The ext4 hook saw this unlink: the file still has another link. Only this name is
         * gone. */
        bpf_map_delete_elem(&names, &pending.key);
        birth->has_key = 0;
        return 0;
    }
    report(ctx, birth, &id, NULL, FILELIFE_VIA_SYSCALL);
    return 0;
}

static __always_inline int on_ext4_unlinked(void* ctx, struct ct_inode_id id,
                                            struct dentry* dentry) {
    struct birth* birth;

    if (!ct_current_selected())
        return 0;
    birth = bpf_map_lookup_elem(&births, &id);
    if (birth)
        report(ctx, birth, &id, dentry, FILELIFE_VIA_EXT4);
    return 0;
}

SEC("raw_tp/ext4_unlink_exit")
int BPF_PROG(ext4_unlink_raw, struct dentry* dentry, int ret) {
    struct inode* inode;

    if (ret != 0)
        return 0;
    inode = BPF_CORE_READ(dentry, d_inode);
    if (!inode || BPF_CORE_READ(inode, i_nlink) != 0)
        return 0; /* another link remains: the file lives on */
    return on_ext4_unlinked(ctx, ct_inode_id_of(inode), dentry);
}

/* The classic tracepoint shows no link count: every unlink of the file's name counts. */
SEC("tp/ext4/ext4_unlink_exit")
int ext4_unlink_tp(struct trace_event_raw_ext4_unlink_exit* ctx) {
    struct ct_inode_id id = {};

    if (ctx->ret != 0)
        return 0;
    id.ino = ctx->ino;
    id.dev = ctx->dev;
    return on_ext4_unlinked(ctx, id, NULL);
}

SEC("tp/syscalls/sys_enter_open")
int open_enter(struct trace_event_raw_sys_enter* ctx) {
    if (!(ctx->args[1] & O_CREAT))
        return 0;
    return remember((const char*)ctx->args[0], AT_FDCWD, PENDING_CREATE);
}

SEC("tp/syscalls/sys_enter_openat")
int openat_enter(struct trace_event_raw_sys_enter* ctx) {
    if (!(ctx->args[2] & O_CREAT))
        return 0;
    return remember((const char*)ctx->args[1], (int)ctx->args[0], PENDING_CREATE);
}

SEC("tp/syscalls/sys_enter_openat2")
int openat2_enter(struct trace_event_raw_sys_enter* ctx) {
    struct open_how how = {};

    if (bpf_probe_read_user(&how, sizeof(how), (const void*)ctx->args[2]) || !(how.flags & O_CREAT))
        return 0;
    return remember((const char*)ctx->args[1], (int)ctx->args[0], PENDING_CREATE);
}

SEC("tp/syscalls/sys_enter_creat")
int creat_enter(struct trace_event_raw_sys_enter* ctx) {
    return remember((const char*)ctx->args[0], AT_FDCWD, PENDING_CREATE);
}

SEC("tp/syscalls/sys_enter_unlink")
int unlink_enter(struct trace_event_raw_sys_enter* ctx) {
    return remember((const char*)ctx->args[0], AT_FDCWD, PENDING_DELETE);
}

SEC("tp/syscalls/sys_enter_unlinkat")
int unlinkat_enter(struct trace_event_raw_sys_enter* ctx) {
    if (ctx->args[2] & AT_REMOVEDIR)
        return 0;
    return remember((const char*)ctx->args[1], (int)ctx->args[0], PENDING_DELETE);
}

#define ON_EXIT(call, handler)                                                                     \
    SEC("tp/syscalls/sys_exit_" #call)                                                             \
    int call##_exit(struct trace_event_raw_sys_exit* ctx) {                                        \
        return handler;                                                                            \
    }

ON_EXIT(open, on_open_exit(ctx->ret))
ON_EXIT(openat, on_open_exit(ctx->ret))
ON_EXIT(openat2, on_open_exit(ctx->ret))
ON_EXIT(creat, on_open_exit(ctx->ret))
ON_EXIT(unlink, on_unlink_exit(ctx, ctx->ret))
ON_EXIT(unlinkat, on_unlink_exit(ctx, ctx->ret))
