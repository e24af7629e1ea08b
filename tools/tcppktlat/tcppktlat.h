/* tcppktlat: the record the BPF side sends when a thread picks up received TCP data. */
#ifndef CORETRACE_TCPPKTLAT_H
#define CORETRACE_TCPPKTLAT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TCPPKTLAT_COMM_LEN 16

struct tcppktlat_event {
    __u64 ts_ns;    /* bpf_ktime_get_ns() at the pick-up (CLOCK_MONOTONIC) */
    __u64 delta_ns; /* from the last data segment's arrival to the pick-up */
    __u32 pid;      /* the thread that read (tgid) */
    __u32 tid;
    __u16 family;
    __u16 sport; /* host order */
    __u16 dport; /* host order */
    __u16 pad;
    __u8 saddr[16];
    __u8 daddr[16];
    char comm[TCPPKTLAT_COMM_LEN];
};

#endif
