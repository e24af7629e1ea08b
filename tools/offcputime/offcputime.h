/* offcputime: where threads block, shared by both sides: the stacks a thread had when it left
 * the CPU, and the time it then spent off it. */
#ifndef CORETRACE_OFFCPUTIME_H
#define CORETRACE_OFFCPUTIME_H

#define OFFCPUTIME_COMM_LEN 16

struct offcputime_key {
    __u32 tid;
    __u32 tgid;
    __s32 user_stack_id; /* in ct_stacks; negative: none (kernel thread, -K) or lost */
    __s32 kern_stack_id;
    char comm[OFFCPUTIME_COMM_LEN];
};

#endif
