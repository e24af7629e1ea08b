/* javagc: the record the BPF side sends per garbage collection of a HotSpot JVM. */
#ifndef CORETRACE_JAVAGC_H
#define CORETRACE_JAVAGC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define JAVAGC_COMM_LEN 16

struct javagc_event {
    __u64 ts_ns;       /* bpf_ktime_get_ns() at hotspot:gc__end (CLOCK_MONOTONIC) */
    __u64 duration_ns; /* from hotspot:gc__begin to hotspot:gc__end in the same thread */
    __u32 pid;         /* tgid */
    __u32 tid;         /* the thread that collected (HotSpot's VM thread) */
    __u32 cpu;         /* the CPU at gc__end */
    __u32 full;        /* gc__begin's argument: 1 for a full collection */
    char comm[JAVAGC_COMM_LEN];
};

#endif
