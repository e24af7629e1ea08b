/* oomkill: one record per task the OOM killer marks as its victim (oom:mark_victim).
 *
 * The tracepoint fires in mark_oom_victim(), called by the OOM killer in the context of the task
 * whose allocation failed: that current task is reported as the trigger (libbpf-tools reads it
 * in oom_kill_process() the same way). The victim's comm and memory come from the tracepoint's
 * own fields, checked with CO-RE so that a kernel whose tracepoint has only the PID still loads. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <coretrace/events.bpf.h>
#include "oomkill.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tp/oom/mark_victim")
int oomkill_tp(struct trace_event_raw_mark_victim* ctx) {
    __u64 id = bpf_get_current_pid_tgid();
    struct oomkill_event* event;

    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    __builtin_memset(event, 0, sizeof(*event));
    event->ts_ns = bpf_ktime_get_ns();
    event->victim_pid = ctx->pid;
    event->trigger_pid = id >> 32;
    event->trigger_tid = (__u32)id;
    bpf_get_current_comm(event->trigger_comm, sizeof(event->trigger_comm));
    if (bpf_core_field_exists(ctx->__data_loc_comm) && bpf_core_field_exists(ctx->anon_rss)) {
        __u32 loc = BPF_CORE_READ(ctx, __data_loc_comm);

        event->has_details = 1;
        bpf_probe_read_kernel_str(event->victim_comm, sizeof(event->victim_comm),
                                  (void*)ctx + (loc & 0xffff));
        event->total_vm_kb = BPF_CORE_READ(ctx, total_vm);
        event->anon_rss_kb = BPF_CORE_READ(ctx, anon_rss);
        event->file_rss_kb = BPF_CORE_READ(ctx, file_rss);
        event->shmem_rss_kb = BPF_CORE_READ(ctx, shmem_rss);
        event->victim_uid = BPF_CORE_READ(ctx, uid);
        event->pgtables_kb = BPF_CORE_READ(ctx, pgtables);
        event->oom_score_adj = BPF_CORE_READ(ctx, oom_score_adj);
    }
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}
