/* Files of the current task, reached from a file descriptor through its fd table with CO-RE
 * reads (task->files->fdt->fd[fd]): what a syscall tracepoint needs to see the struct file a
 * kprobe on vfs_read() or vfs_open() would have been handed. Nothing here takes a reference: a
 * file is only stable while the current task is inside a system call that holds it (for
 * read(2) and friends, from entry to exit), or, at a syscall's exit, until the task itself
 * closes or replaces the descriptor. */
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

    if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
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

/* The last component of a file's name (its dentry's name) into buf, NUL-terminated; returns
 * the bytes written with the NUL, or a negative error (buf then holds ""). */
static __always_inline long ct_file_name(struct file* file, char* buf, __u32 size) {
    const unsigned char* name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
    long len = bpf_probe_read_kernel_str(buf, size, name);

    if (len < 0)
        buf[0] = '\0';
    return len;
}

#endif
