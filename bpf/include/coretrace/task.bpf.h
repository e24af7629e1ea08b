/* CO-RE shims for task_struct fields that were renamed across kernel versions. */
#ifndef CORETRACE_TASK_BPF_H
#define CORETRACE_TASK_BPF_H

#include <bpf/bpf_core_read.h>

/* The state of a task in its final switch-out (include/linux/sched.h). */
#define CT_TASK_DEAD 0x80

/* Kernels before 5.14 call the state field `state`; later ones `__state`. */
struct task_struct___pre514 {
    long state;
} __attribute__((preserve_access_index));

static __always_inline long ct_task_state(struct task_struct* task) {
    if (bpf_core_field_exists(task->__state))
        return BPF_CORE_READ(task, __state);
    return BPF_CORE_READ((struct task_struct___pre514*)task, state);
}

#endif
