/* fsslower: the record the BPF side sends per slow file system call, and the operations. */
#ifndef CORETRACE_FSSLOWER_H
#define CORETRACE_FSSLOWER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define FSSLOWER_COMM_LEN 16
/* Bytes of file name (the dentry's, as libbpf-tools prints) kept, NUL included. */
#define FSSLOWER_NAME_LEN 64
/* Longest -t type name (the BPF side compares CT_FS_NAME_LEN = 16 bytes, NUL included). */
#define FSSLOWER_FS_MAX 15
/* BYTES of an fsync: the whole file, as the file system's fsync is given (0, LLONG_MAX). */
#define FSSLOWER_WHOLE_FILE 0x7fffffffffffffffLL

enum fsslower_op {
    FSSLOWER_READ = 0,
    FSSLOWER_WRITE = 1,
    FSSLOWER_OPEN = 2,
    FSSLOWER_FSYNC = 3,
};

struct fsslower_event {
    __u64 end_ns;   /* bpf_ktime_get_ns() at the system call's return */
    __u64 delta_ns; /* from entry to return */
    __s64 size;     /* bytes read or written (-errno on failure); FSSLOWER_WHOLE_FILE for fsync */
    __s64 offset;   /* file position the call started at, in bytes */
    __u32 pid;      /* tgid */
    __u32 tid;
    __u32 op;             /* enum fsslower_op */
    __u32 name_truncated; /* 1 when the name was longer than FSSLOWER_NAME_LEN - 1 bytes */
    char comm[FSSLOWER_COMM_LEN];
    char file[FSSLOWER_NAME_LEN];
};

#endif
