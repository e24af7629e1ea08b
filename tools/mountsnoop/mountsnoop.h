/* mountsnoop: the record the BPF side sends per mount-related call, and the limits both sides
 * share. */
#ifndef CORETRACE_MOUNTSNOOP_H
#define CORETRACE_MOUNTSNOOP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MOUNTSNOOP_COMM_LEN 16
/* Bytes kept of each string, NUL included; longer ones are cut and flagged in `truncated`. */
#define MOUNTSNOOP_PATH_LEN 4096 /* source, target, move_mount paths (PATH_MAX) */
#define MOUNTSNOOP_FSTYPE_LEN 64 /* mount's type, fsopen's file system name */
#define MOUNTSNOOP_DATA_LEN 512  /* mount's data (options), fsconfig's value */
#define MOUNTSNOOP_KEY_LEN 128   /* fsconfig's key */

/* Which call a record comes from (libbpf-tools' order). */
enum mountsnoop_op {
    MOUNTSNOOP_MOUNT = 1,
    MOUNTSNOOP_UMOUNT = 2,
    MOUNTSNOOP_FSOPEN = 3,
    MOUNTSNOOP_FSCONFIG = 4,
    MOUNTSNOOP_FSMOUNT = 5,
    MOUNTSNOOP_MOVE_MOUNT = 6,
};

/* Bits of `truncated`: which strings were longer than their field. */
enum mountsnoop_field {
    MOUNTSNOOP_SOURCE = 1,
    MOUNTSNOOP_TARGET = 2,
    MOUNTSNOOP_FSTYPE = 4,
    MOUNTSNOOP_DATA = 8,
    MOUNTSNOOP_KEY = 16,
};

/* The arguments of a call, kept from its entry to its exit: pointers into the caller's memory,
 * read at exit. */
struct mountsnoop_args {
    __u64 ts_ns;      /* at entry */
    __u64 flags;      /* mount, umount, fsopen, fsmount, move_mount flags */
    __u64 source;     /* mount: source; move_mount: from_pathname */
    __u64 target;     /* mount, umount: target; move_mount: to_pathname */
    __u64 fstype;     /* mount: type; fsopen: fs name */
    __u64 data;       /* mount: data; fsconfig: value */
    __u64 key;        /* fsconfig: key */
    __s32 fd;         /* fsconfig: fd; fsmount: fs_fd; move_mount: from_dfd */
    __s32 to_dfd;     /* move_mount */
    __u32 cmd;        /* fsconfig */
    __s32 aux;        /* fsconfig */
    __u32 attr_flags; /* fsmount */
    __u32 op;         /* enum mountsnoop_op */
};

struct mountsnoop_event {
    __u64 ts_ns;    /* bpf_ktime_get_ns() at the call's return (CLOCK_MONOTONIC) */
    __u64 delta_ns; /* time from entry to return */
    __u64 flags;
    __u32 pid; /* tgid */
    __u32 tid;
    __u32 mnt_ns; /* inode number of the caller's mount namespace at return */
    __s32 ret;    /* the result: 0, a file descriptor, or -errno */
    __u32 op;
    __s32 fd;
    __s32 to_dfd;
    __u32 cmd;
    __s32 aux;
    __u32 attr_flags;
    __u32 truncated; /* enum mountsnoop_field bits */
    __u32 pad;
    char comm[MOUNTSNOOP_COMM_LEN];
    char fstype[MOUNTSNOOP_FSTYPE_LEN];
    char key[MOUNTSNOOP_KEY_LEN];
    char data[MOUNTSNOOP_DATA_LEN];
    char source[MOUNTSNOOP_PATH_LEN];
    char target[MOUNTSNOOP_PATH_LEN];
};

#endif
