/* The record a stack-collecting BPF program sends the first time it sees a process
 * (bpf/include/coretrace/stacks.bpf.h), so that user space reads the process's mappings while it
 * still exists (coretrace/process_watch.hpp). Shared by both sides. */
#ifndef CORETRACE_PROCESS_SEEN_H
#define CORETRACE_PROCESS_SEEN_H

struct ct_process_seen {
    __u32 tgid;
};

#endif
