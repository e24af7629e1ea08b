/* Test program for the event stream: one record per getppid(2) of the filtered thread, with a
 * sequence number counted before the reservation so that delivered + dropped == attempts. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <coretrace/events.bpf.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/task.bpf.h>
#include "stream_probe.h"

char LICENSE[] SEC("license") = "GPL";

__u64 attempts = 0;

SEC("tp/syscalls/sys_enter_getppid")
int stream_probe(void* ctx) {
    struct stream_record* record;
    __u64 sequence;

    if (!ct_current_selected())
        return 0;
    sequence = __sync_fetch_and_add(&attempts, 1) + 1;
    record = ct_event_reserve(sizeof(*record));
    if (!record)
        return 0;
    record->sequence = sequence;
    record->tid = (__u32)bpf_get_current_pid_tgid();
    record->task_state = (__u32)ct_task_state((struct task_struct*)bpf_get_current_task());
    ct_event_submit(ctx, record, sizeof(*record));
    return 0;
}
