/* biosnoop: the record the BPF side sends per completed block request. */
#ifndef CORETRACE_BIOSNOOP_H
#define CORETRACE_BIOSNOOP_H

#include <coretrace/block_request.h>

/* queued_ns when the request was never seen queued (issued before tracing began). */
#define BIOSNOOP_NO_QUEUE_TIME ((__u64)-1)

struct biosnoop_event {
    __u64 ts_ns;     /* completion, bpf_ktime_get_ns() */
    __u64 sector;    /* first sector (512 bytes) */
    __u64 lat_ns;    /* issue to completion */
    __u64 queued_ns; /* accounting start (or insert) to issue, or BIOSNOOP_NO_QUEUE_TIME */
    __u32 pid;       /* process that the request was first seen in (see biosnoop.bpf.c) */
    __u32 dev;       /* BLOCK_MKDEV of the whole disk */
    __u32 flags;     /* block.h form */
    __u32 bytes;
    __s32 error; /* blk_status_t at completion, 0: success */
    __u32 pad;
    char comm[BLOCK_COMM_LEN];
};

#endif
