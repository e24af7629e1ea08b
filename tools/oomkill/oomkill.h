/* oomkill: the record the BPF side sends per OOM victim. */
#ifndef CORETRACE_OOMKILL_H
#define CORETRACE_OOMKILL_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define OOMKILL_COMM_LEN 16

struct oomkill_event {
    __u64 ts_ns;       /* bpf_ktime_get_ns() when the victim was marked (CLOCK_MONOTONIC) */
    __u32 victim_pid;  /* the task the OOM killer marked (its kernel pid, i.e. thread ID) */
    __u32 victim_uid;  /* its user ID (0 on kernels whose tracepoint lacks it) */
    __u32 trigger_pid; /* the current task's tgid: the one whose allocation ran out */
    __u32 trigger_tid;
    __u64 total_vm_kb; /* the victim's memory, in kB, as the tracepoint reports it */
    __u64 anon_rss_kb;
    __u64 file_rss_kb;
    __u64 shmem_rss_kb;
    __u64 pgtables_kb;
    __s32 oom_score_adj;
    __u32 has_details; /* 0: the kernel's tracepoint has only the PID (before Linux 6.2) */
    char victim_comm[OOMKILL_COMM_LEN];
    char trigger_comm[OOMKILL_COMM_LEN];
};

#endif
