/* statsnoop: the record the BPF side sends per stat-family call, and the limits both sides
 * share. */
#ifndef CORETRACE_STATSNOOP_H
#define CORETRACE_STATSNOOP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define STATSNOOP_COMM_LEN 16
/* Bytes of path kept, NUL included (libbpf-tools keeps 255 too): longer ones are cut, flagged. */
#define STATSNOOP_PATH_LEN 256

/* Which system call a record comes from. */
enum statsnoop_syscall {
    STATSNOOP_STATFS = 0,
    STATSNOOP_NEWSTAT = 1,
    STATSNOOP_NEWLSTAT = 2,
    STATSNOOP_NEWFSTATAT = 3,
    STATSNOOP_STATX = 4,
    STATSNOOP_SYSCALLS = 5,
};

struct statsnoop_event {
    __u64 ts_ns; /* bpf_ktime_get_ns() at the call's return (CLOCK_MONOTONIC) */
    __u32 pid;   /* tgid */
    __u32 tid;
    __s32 ret;            /* 0, or -errno */
    __s32 dirfd;          /* newfstatat, statx: the directory fd (AT_FDCWD is -100); else -100 */
    __u32 flags;          /* newfstatat, statx: the AT_* flags; else 0 */
    __u32 syscall;        /* enum statsnoop_syscall */
    __u32 path_truncated; /* 1 when the path was longer than STATSNOOP_PATH_LEN - 1 bytes */
    __u32 path_null;      /* 1 when the caller passed no path at all (statx with AT_EMPTY_PATH) */
    char comm[STATSNOOP_COMM_LEN];
    char path[STATSNOOP_PATH_LEN]; /* NUL-terminated; "" when absent or unreadable */
};

#endif
