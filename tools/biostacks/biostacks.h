/* biostacks: the histogram key (who began the request, where in the kernel, which disk) and
 * value shared by both sides. */
#ifndef CORETRACE_BIOSTACKS_H
#define CORETRACE_BIOSTACKS_H

#include <coretrace/block_request.h>

#define BIOSTACKS_MAX_STACK 20
#define BIOSTACKS_MAX_SLOTS 20

struct biostacks_key {
    __u32 tgid;
    __u32 dev;
    __u32 stack_bytes; /* bytes of kern_stack filled, 0: no stack */
    __u32 pad;
    char comm[BLOCK_COMM_LEN];
    __u64 kern_stack[BIOSTACKS_MAX_STACK];
};

struct biostacks_hist {
    __u32 slots[BIOSTACKS_MAX_SLOTS];
};

#endif
