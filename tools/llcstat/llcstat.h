/* llcstat: what the BPF side counts per process (or thread) and CPU. */
#ifndef CORETRACE_LLCSTAT_H
#define CORETRACE_LLCSTAT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define LLCSTAT_COMM_LEN 16
#define LLCSTAT_MAX_ENTRIES 10240

struct llcstat_key {
    __u32 cpu;
    __u32 pid; /* tgid */
    __u32 tid; /* the thread with -t, else 0 */
};

struct llcstat_value {
    __u64 references;            /* cache references: samples times the sample period */
    __u64 misses;                /* cache misses: samples times the sample period */
    char comm[LLCSTAT_COMM_LEN]; /* the command name at the last sample */
};

#endif
