/* wakeuptime: who woke blocked threads, shared by both sides: the waker's name and kernel stack
 * at the wakeup, and the name of the thread it woke. */
#ifndef CORETRACE_WAKEUPTIME_H
#define CORETRACE_WAKEUPTIME_H

#define WAKEUPTIME_COMM_LEN 16

struct wakeuptime_key {
    char waker[WAKEUPTIME_COMM_LEN];
    char target[WAKEUPTIME_COMM_LEN];
    __s32 waker_stack_id; /* kernel stack, in ct_stacks; negative: lost */
    __u32 waker_tgid;
};

#endif
