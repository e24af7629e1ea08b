/* opensnoop: the record the BPF side sends per open(2)/openat(2)/openat2(2) call, and the
 * limits both sides share. */
#ifndef CORETRACE_OPENSNOOP_H
#define CORETRACE_OPENSNOOP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define OPENSNOOP_COMM_LEN 16
/* Bytes of path kept, NUL included: longer paths are cut to 255 bytes and flagged. */
#define OPENSNOOP_PATH_LEN 256
/* Longest -n NAME (a comm has at most 15 characters) and --path / --path-prefix pattern. */
#define OPENSNOOP_NAME_MAX (OPENSNOOP_COMM_LEN - 1)
#define OPENSNOOP_PATTERN_MAX 64

/* Which system call a record comes from. */
enum opensnoop_syscall {
    OPENSNOOP_OPEN = 0,
    OPENSNOOP_OPENAT = 1,
    OPENSNOOP_OPENAT2 = 2,
};

/* How --path / --path-prefix compare (rodata switch path_match). */
enum opensnoop_path_match {
    OPENSNOOP_PATH_ANY = 0,
    OPENSNOOP_PATH_CONTAINS = 1,
    OPENSNOOP_PATH_PREFIX = 2,
};

struct opensnoop_event {
    __u64 ts_ns; /* bpf_ktime_get_ns() at the syscall's return (CLOCK_MONOTONIC) */
    __u32 pid;   /* tgid */
    __u32 tid;
    __u32 uid;
    __s32 ret;            /* the new fd, or -errno */
    __u32 flags;          /* O_* flags as passed (openat2: open_how.flags) */
    __u32 mode;           /* mode as passed (openat2: open_how.mode) */
    __u32 syscall;        /* enum opensnoop_syscall */
    __u32 path_truncated; /* 1 when the path was longer than OPENSNOOP_PATH_LEN - 1 bytes */
    char comm[OPENSNOOP_COMM_LEN];
    char path[OPENSNOOP_PATH_LEN]; /* NUL-terminated; "" when the path could not be read */
};

#endif
