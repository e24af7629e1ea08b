/* Files of the current task, reached from a file descriptor through its fd table with CO-RE
 * reads (task->files->fdt->fd[fd]): what a syscall tracepoint needs to see the struct file a
 * kprobe on vfs_read() or vfs_open() would have been handed. Nothing here takes a reference: a
 * file is only stable while the current task is inside a system call that holds it (for
 * read(2) and friends, from entry to exit), or, at a syscall's exit, until the task itself
 * closes or replaces the descriptor. Reads go through bpf_probe_read_kernel: a file closed by
 * another thread meanwhile gives a failed read (NULL, an empty name), never a fault. */
#ifndef CORETRACE_FILES_BPF_H
#define CORETRACE_FILES_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* fmode_t bit set by the open that created the file (include/linux/fs.h, since Linux 4.18). */
#define CT_FMODE_CREATED 0x100000

/* The i_mode file type bits (include/uapi/linux/stat.h). */
#define CT_S_IFMT 00170000
#define CT_S_IFSOCK 0140000
#define CT_S_IFREG 0100000

/* The struct file behind descriptor `fd` of the current task, or NULL (closed, out of range,
 * or a kernel thread without an fd table). */
static __always_inline struct file* ct_current_file(long fd) {
    struct task_struct* task = (struct task_struct*)bpf_get_current_task();
    struct fdtable* fdt = BPF_CORE_READ(task, files, fdt);
    struct file** fds;
    struct file* file = NULL;

    if (!fdt || fd < 0 || fd >= (long)BPF_CORE_READ(fdt, max_fds))
        return NULL;
    fds = BPF_CORE_READ(fdt, fd);
    if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
        return NULL;
    return file;
}

/* The identity of a file's inode: the superblock's device (the kernel's dev_t encoding,
 * major << 20 | minor) and the inode number. */
struct ct_inode_id {
    __u64 ino;
    __u32 dev;
    __u32 pad;
};

static __always_inline struct ct_inode_id ct_inode_id_of(struct inode* inode) {
    struct ct_inode_id id = {};

    id.ino = BPF_CORE_READ(inode, i_ino);
    id.dev = BPF_CORE_READ(inode, i_sb, s_dev);
    return id;
}

/* Longest file system type name compared ("btrfs", "ext4", "nfs", "xfs", "tmpfs", ...). */
#define CT_FS_NAME_LEN 16

/* True when `file` lives on a file system whose type name (f_inode->i_sb->s_type->name) is
 * exactly `name` (name_len bytes of a CT_FS_NAME_LEN array, NUL not counted). An empty `name`
 * (name_len 0) matches any file; a NULL file matches nothing. */
static __always_inline bool ct_file_fs_is(struct file* file, const volatile char* name,
                                          __u32 name_len) {
    char type[CT_FS_NAME_LEN] = {};
    const char* type_name;

    if (!file)
        return false;
    if (!name_len)
        return true;
    type_name = BPF_CORE_READ(file, f_inode, i_sb, s_type, name);
    if (!type_name || bpf_probe_read_kernel_str(type, sizeof(type), type_name) < 0)
        return false;
    for (__u32 i = 0; i < CT_FS_NAME_LEN; i++) {
        char want = i < name_len ? name[i] : '\0';

        if (type[i] != want)
            return false;
        if (want == '\0')
            return true;
    }
    return name_len == CT_FS_NAME_LEN;
}

/* Copies the last component of `file`'s path (its dentry name) into `out` (size bytes, NUL
 * terminated; "" when unreadable). Returns 1 when the name was longer than size - 1 bytes and
 * was cut, else 0. */
static __always_inline int ct_file_name(struct file* file, char* out, __u32 size) {
    const unsigned char* name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
    __u32 len = BPF_CORE_READ(file, f_path.dentry, d_name.len);
    long copied;

    copied = name ? bpf_probe_read_kernel_str(out, size, name) : -1;
    if (copied <= 0) {
        out[0] = '\0';
        return 0;
    }
    return len > size - 1;
}

/* The file position (f_pos) of `file`, 0 when unreadable. */
static __always_inline __s64 ct_file_pos(struct file* file) {
    return BPF_CORE_READ(file, f_pos);
}

#endif
