/* filelife: the record the BPF side sends per short-lived file deleted. */
#ifndef CORETRACE_FILELIFE_H
#define CORETRACE_FILELIFE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define FILELIFE_COMM_LEN 16
/* A file name (one path component, at most NAME_MAX = 255 bytes) and its NUL. */
#define FILELIFE_NAME_LEN 256
/* Bytes of a path that the syscall-level match hashes; a longer path is not matched by it. */
#define FILELIFE_PATH_LEN 256

/* Which hook saw the deletion. */
enum filelife_via {
    FILELIFE_VIA_EXT4 = 0,    /* ext4:ext4_unlink_exit: the inode itself */
    FILELIFE_VIA_SYSCALL = 1, /* unlink(2)/unlinkat(2) exit: the path, as spelled at creation */
};

struct filelife_event {
    __u64 ts_ns;  /* bpf_ktime_get_ns() at the deletion (CLOCK_MONOTONIC) */
    __u64 age_ns; /* from the creating open's return to the deletion */
    __u64 ino;
    __u32 dev; /* kernel encoding: major << 20 | minor */
    __u32 pid; /* the deleting process (tgid) */
    __u32 tid;
    __u32 creator_pid;
    __u32 via; /* enum filelife_via */
    __u32 pad;
    char comm[FILELIFE_COMM_LEN];
    char name[FILELIFE_NAME_LEN]; /* the file's name (last path component) */
};

#endif
