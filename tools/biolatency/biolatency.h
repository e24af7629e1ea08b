/* biolatency: the histogram key and record shared by the BPF side and the user side. */
#ifndef CORETRACE_BIOLATENCY_H
#define CORETRACE_BIOLATENCY_H

#include <coretrace/block_request.h>

#define BIOLATENCY_MAX_SLOTS 27

/* One histogram per key: dev is 0 unless -D, flags 0 unless -F. */
struct biolatency_key {
    __u32 dev;
    __u32 flags; /* block.h form */
};

struct biolatency_hist {
    __u32 slots[BIOLATENCY_MAX_SLOTS];
};

#endif
