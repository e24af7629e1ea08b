/* cpudist: the histogram record shared by the BPF side and the user side. */
#ifndef CORETRACE_CPUDIST_H
#define CORETRACE_CPUDIST_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CPUDIST_MAX_SLOTS 36
#define CPUDIST_COMM_LEN 16
/* Key of the single histogram when neither -P nor -L is given. */
#define CPUDIST_ALL_KEY 0xffffffffu

struct cpudist_hist {
    __u32 slots[CPUDIST_MAX_SLOTS];
    char comm[CPUDIST_COMM_LEN];
};

#endif
