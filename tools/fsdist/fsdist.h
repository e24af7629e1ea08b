/* fsdist: the per-operation histogram shared by the BPF side and the user side. */
#ifndef CORETRACE_FSDIST_H
#define CORETRACE_FSDIST_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define FSDIST_MAX_SLOTS 32
/* Longest -t type name (the BPF side compares CT_FS_NAME_LEN = 16 bytes, NUL included). */
#define FSDIST_FS_MAX 15

enum fsdist_op {
    FSDIST_READ = 0,
    FSDIST_WRITE = 1,
    FSDIST_OPEN = 2,
    FSDIST_FSYNC = 3,
    FSDIST_GETATTR = 4,
    FSDIST_OPS = 5,
};

struct fsdist_hist {
    __u32 slots[FSDIST_MAX_SLOTS];
};

#endif
