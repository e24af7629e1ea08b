/* hardirqs: what the BPF side and the user side share: the key (the handler's name) and the
 * per-name totals, which only grow; user space reports the difference between two reads. */
#ifndef CORETRACE_HARDIRQS_H
#define CORETRACE_HARDIRQS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Bytes of handler name kept, NUL included (irqaction::name; longer names are cut). */
#define HARDIRQS_NAME_LEN 32
#define HARDIRQS_MAX_SLOTS 32
/* Distinct handler names kept; the handlers of more are counted in `infos_full`. */
#define HARDIRQS_MAX_NAMES 256

struct hardirqs_key {
    char name[HARDIRQS_NAME_LEN]; /* NUL-padded: the whole array is the hash key */
};

struct hardirqs_info {
    __u64 count;                     /* handler runs */
    __u64 total;                     /* time in the handler, in usecs (nsecs with -N); 0 with -C */
    __u32 slots[HARDIRQS_MAX_SLOTS]; /* -d: log2 histogram of the time per run */
};

#endif
