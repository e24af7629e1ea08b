/* readahead: the totals and histogram shared by the BPF side and the user side. */
#ifndef CORETRACE_READAHEAD_H
#define CORETRACE_READAHEAD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define READAHEAD_MAX_SLOTS 20
/* Pages of one access event that are looked up (a read asks for at most this many at once). */
#define READAHEAD_MAX_RANGE 1024

struct readahead_hist {
    __u64 total;                      /* pages added to the page cache by readahead */
    __u64 unused;                     /* of those, not accessed (yet) */
    __u64 dropped;                    /* readahead pages not followed: the page map was full */
    __u32 slots[READAHEAD_MAX_SLOTS]; /* time from readahead to first access */
};

#endif
