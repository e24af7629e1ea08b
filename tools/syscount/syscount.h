/* syscount: what the BPF side counts per key (a system call number, or a process ID with -P). */
#ifndef CORETRACE_SYSCOUNT_H
#define CORETRACE_SYSCOUNT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SYSCOUNT_COMM_LEN 16
/* Keys of the counts map: system call numbers (fewer than 1024 on every architecture) or,
 * with -P, processes. */
#define SYSCOUNT_SYSCALL_KEYS 1024
#define SYSCOUNT_PROCESS_KEYS 10240

struct syscount_value {
    __u64 count;
    __u64 total_ns;               /* with -L: time from entry to exit, summed */
    char comm[SYSCOUNT_COMM_LEN]; /* with -P: the process's (main thread's) command name */
};

#endif
