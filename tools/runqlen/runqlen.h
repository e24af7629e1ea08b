/* runqlen: the per-CPU histogram shared by the BPF side and the user side. */
#ifndef CORETRACE_RUNQLEN_H
#define CORETRACE_RUNQLEN_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Slot n counts samples that found n tasks waiting; the last slot also counts more. */
#define RUNQLEN_MAX_SLOTS 32

struct runqlen_hist {
    __u32 slots[RUNQLEN_MAX_SLOTS];
};

#endif
