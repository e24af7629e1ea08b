/* tcpstates: the record the BPF side sends per TCP state change. */
#ifndef CORETRACE_TCPSTATES_H
#define CORETRACE_TCPSTATES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TCPSTATES_COMM_LEN 16

struct tcpstates_event {
    __u64 skaddr;   /* the socket's kernel address (its identity while it lives) */
    __u64 ts_ns;    /* bpf_ktime_get_ns() at the change (CLOCK_MONOTONIC) */
    __u64 delta_ns; /* time spent in the old state (0: its start was not seen) */
    __u32 pid;      /* the socket's owner if known (owner_known), else the current task */
    __u32 owner_known;
    __s32 oldstate;
    __s32 newstate;
    __u16 family;
    __u16 sport; /* local, host order */
    __u16 dport; /* remote, host order */
    __u16 pad;
    __u8 saddr[16];
    __u8 daddr[16];
    char comm[TCPSTATES_COMM_LEN];
};

#endif
