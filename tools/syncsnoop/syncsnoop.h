/* syncsnoop: the record the BPF side sends per sync-family call. */
#ifndef CORETRACE_SYNCSNOOP_H
#define CORETRACE_SYNCSNOOP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SYNCSNOOP_COMM_LEN 16

/* Which system call a record comes from. */
enum syncsnoop_syscall {
    SYNCSNOOP_SYNC = 0,
    SYNCSNOOP_SYNCFS = 1,
    SYNCSNOOP_FSYNC = 2,
    SYNCSNOOP_FDATASYNC = 3,
    SYNCSNOOP_MSYNC = 4,
    SYNCSNOOP_SYNC_FILE_RANGE = 5,
    SYNCSNOOP_SYSCALLS = 6,
};

struct syncsnoop_event {
    __u64 ts_ns; /* bpf_ktime_get_ns() at the call's entry (CLOCK_MONOTONIC) */
    __u64 arg0;  /* syncfs, fsync, fdatasync, sync_file_range: fd; msync: addr */
    __u64 arg1;  /* msync: length; sync_file_range: offset */
    __u64 arg2;  /* msync: flags; sync_file_range: nbytes */
    __u64 arg3;  /* sync_file_range: flags */
    __u32 pid;   /* tgid */
    __u32 tid;
    __u32 syscall; /* enum syncsnoop_syscall */
    __u32 pad;
    char comm[SYNCSNOOP_COMM_LEN];
};

#endif
