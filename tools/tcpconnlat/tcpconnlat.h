/* tcpconnlat: the record the BPF side sends per active TCP connection once established. */
#ifndef CORETRACE_TCPCONNLAT_H
#define CORETRACE_TCPCONNLAT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TCPCONNLAT_COMM_LEN 16

struct tcpconnlat_event {
    __u64 ts_ns;    /* bpf_ktime_get_ns() at ESTABLISHED (CLOCK_MONOTONIC) */
    __u64 delta_ns; /* from SYN_SENT (inside connect(2)) to ESTABLISHED */
    __u32 pid;      /* the task that called connect(2) */
    __u32 tid;
    __u16 family;
    __u16 sport; /* host order */
    __u16 dport; /* host order */
    __u16 pad;
    __u8 saddr[16];
    __u8 daddr[16];
    char comm[TCPCONNLAT_COMM_LEN];
};

#endif
