/* exitsnoop: one record per process exit (with -T, per thread exit).
 *
 * The exiting task is the current task in sched:sched_process_exit, whichever way it is
 * hooked (raw_tp or classic tracepoint): its exit status, start time and parent are read with
 * CO-RE from task_struct. Every filter (-p, -c, -x, threads) is applied here. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/events.bpf.h>
#include "exitsnoop.h"

char LICENSE[] SEC("license") = "GPL";

/* -x: only exits with a non-zero code or by a signal. */
const volatile bool targ_failed = false;
/* -T: every thread's exit, not only the process's (its main thread's). */
const volatile bool targ_threads = false;

static __always_inline int on_exit(void* ctx) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 pid = id >> 32, tid = (__u32)id;
    struct exitsnoop_event* event;
    struct task_struct* task;
    __u32 exit_code;

    if (!targ_threads && pid != tid)
        return 0;
    if (!ct_pid_selected(pid, tid) || !ct_current_cgroup_selected())
        return 0;
    task = (struct task_struct*)bpf_get_current_task();
    exit_code = (__u32)BPF_CORE_READ(task, exit_code);
    if (targ_failed && exit_code == 0)
        return 0;

    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    event->start_ns = BPF_CORE_READ(task, start_time);
    event->exit_ns = bpf_ktime_get_ns();
    event->pid = pid;
    event->tid = tid;
    event->ppid = (__u32)BPF_CORE_READ(task, real_parent, tgid);
    event->exit_code = exit_code;
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}

SEC("raw_tp/sched_process_exit")
int exit_raw(void* ctx) {
    return on_exit(ctx);
}

SEC("tp/sched/sched_process_exit")
int exit_tp(void* ctx) {
    return on_exit(ctx);
}
