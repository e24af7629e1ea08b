/* filetop: the per-file, per-thread counters the BPF side keeps and the user side reads. */
#ifndef CORETRACE_FILETOP_H
#define CORETRACE_FILETOP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define FILETOP_COMM_LEN 16
/* A file name (one path component, at most NAME_MAX = 255 bytes) and its NUL. */
#define FILETOP_NAME_LEN 256

enum filetop_op {
    FILETOP_READ = 0,
    FILETOP_WRITE = 1,
};

/* One file as seen by one thread. */
struct filetop_key {
    __u64 ino;
    __u32 dev;  /* the superblock's device, kernel encoding (major << 20 | minor) */
    __u32 rdev; /* for device files, the device they stand for */
    __u32 pid;
    __u32 tid;
};

struct filetop_stat {
    __u64 reads;
    __u64 read_bytes; /* bytes the calls returned */
    __u64 writes;
    __u64 write_bytes;
    __u32 pid;
    __u32 tid;
    char comm[FILETOP_COMM_LEN];
    char name[FILETOP_NAME_LEN]; /* the dentry's name when first seen; "" if unreadable */
    char type;                   /* 'R' regular file, 'S' socket, 'O' other */
    char pad[7];
};

#endif
