/* Filters applied in the kernel, configured through .rodata before load:
 *   ct_targ_tgid: only this process (0: any);  ct_targ_tid: only this thread (0: any);
 *   ct_filter_cgroup: only tasks under the cgroup stored at index 0 of ct_cgroup_filter;
 *   ct_filter_uid: only tasks whose real user ID is ct_targ_uid (-u, as libbpf-tools). */
#ifndef CORETRACE_FILTER_BPF_H
#define CORETRACE_FILTER_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

const volatile __u32 ct_targ_tgid = 0;
const volatile __u32 ct_targ_tid = 0;
const volatile bool ct_filter_cgroup = false;
const volatile bool ct_filter_uid = false;
const volatile __u32 ct_targ_uid = 0;

struct {
    __uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
    __type(key, __u32);
    __type(value, __u32);
    __uint(max_entries, 1);
} ct_cgroup_filter SEC(".maps");

/* True when a task with these ids passes the PID/TID filters. */
static __always_inline bool ct_pid_selected(__u32 tgid, __u32 tid) {
    if (ct_targ_tgid && ct_targ_tgid != tgid)
        return false;
    if (ct_targ_tid && ct_targ_tid != tid)
        return false;
    return true;
}

/* The PID/TID filters for a task that need not be the current one (the task woken, switched
 * in...), whose thread id the caller has read: its tgid is read only when -p needs it, as each
 * CO-RE read is a helper call on a hot path. */
static __always_inline bool ct_task_selected(struct task_struct* task, __u32 tid) {
    return ct_pid_selected(ct_targ_tgid ? BPF_CORE_READ(task, tgid) : 0, tid);
}

/* True when the current task passes the cgroup filter (only the current task can be tested). */
static __always_inline bool ct_current_cgroup_selected(void) {
    return !ct_filter_cgroup || bpf_current_task_under_cgroup(&ct_cgroup_filter, 0) > 0;
}

/* True when the current task passes the user filter. */
static __always_inline bool ct_current_uid_selected(void) {
    return !ct_filter_uid || (__u32)bpf_get_current_uid_gid() == ct_targ_uid;
}

/* Every filter, for the current task. */
static __always_inline bool ct_current_selected(void) {
    __u64 id = bpf_get_current_pid_tgid();
    return ct_pid_selected(id >> 32, (__u32)id) && ct_current_uid_selected() &&
           ct_current_cgroup_selected();
}

#endif
