/* runqlat: the histogram record shared by the BPF side and the user side. */
#ifndef CORETRACE_RUNQLAT_H
#define CORETRACE_RUNQLAT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define RUNQLAT_MAX_SLOTS 26
#define RUNQLAT_COMM_LEN 16
/* Key of the single histogram when none of -P, -L, --pidnss is given. */
#define RUNQLAT_ALL_KEY 0xffffffffu

struct runqlat_hist {
    __u32 slots[RUNQLAT_MAX_SLOTS];
    char comm[RUNQLAT_COMM_LEN]; /* the task last counted under this key */
};

#endif
