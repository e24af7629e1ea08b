/* bitesize: the histogram key and value shared by the BPF side and the user side. */
#ifndef CORETRACE_BITESIZE_H
#define CORETRACE_BITESIZE_H

#include <coretrace/block_request.h>

#define BITESIZE_MAX_SLOTS 20

struct bitesize_key {
    char comm[BLOCK_COMM_LEN];
};

struct bitesize_hist {
    __u32 slots[BITESIZE_MAX_SLOTS]; /* log2 of the request's size in Kbytes */
    __u64 bytes;                     /* total bytes, for --json */
};

#endif
