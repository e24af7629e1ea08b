/* mdflush: the record the BPF side sends per flush request queued to an md device. */
#ifndef CORETRACE_MDFLUSH_H
#define CORETRACE_MDFLUSH_H

#include <coretrace/block_request.h>

#define MDFLUSH_DISK_NAME_LEN 32

struct mdflush_event {
    __u64 ts_ns;
    __u32 pid; /* tgid of the task that queued the flush */
    __u32 tid;
    char comm[BLOCK_COMM_LEN];
    char disk[MDFLUSH_DISK_NAME_LEN];
};

#endif
