/* biotop: the per-process, per-disk, per-direction totals shared by both sides. */
#ifndef CORETRACE_BIOTOP_H
#define CORETRACE_BIOTOP_H

#include <coretrace/block_request.h>

struct biotop_key {
    __u32 pid;
    __u32 dev;   /* BLOCK_MKDEV of the whole disk */
    __u32 write; /* 1: write, 0: read or other */
    char comm[BLOCK_COMM_LEN];
};

struct biotop_value {
    __u64 bytes;
    __u64 ns; /* total time at the device, issue to completion */
    __u32 io;
    __u32 pad;
};

#endif
