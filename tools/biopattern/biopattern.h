/* biopattern: the per-disk counters shared by the BPF side and the user side. */
#ifndef CORETRACE_BIOPATTERN_H
#define CORETRACE_BIOPATTERN_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

struct biopattern_counter {
    __u64 last_sector; /* the sector after the last completed request */
    __u64 bytes;
    __u32 sequential;
    __u32 random;
};

#endif
