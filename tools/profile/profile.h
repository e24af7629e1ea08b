/* profile: the key of a sampled stack (process, its name, its user and kernel stacks), shared by
 * both sides. */
#ifndef CORETRACE_PROFILE_H
#define CORETRACE_PROFILE_H

#define PROFILE_COMM_LEN 16

struct profile_key {
    __u32 tgid;
    __s32 user_stack_id; /* in ct_stacks; negative: none (kernel thread, -K, or lost) */
    __s32 kern_stack_id; /* negative: none (sampled in user mode, -U, or lost) */
    char comm[PROFILE_COMM_LEN];
};

#endif
