/* tcptracer: the record the BPF side sends per TCP connect, accept or close. */
#ifndef CORETRACE_TCPTRACER_H
#define CORETRACE_TCPTRACER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TCPTRACER_COMM_LEN 16

enum tcptracer_type {
    TCPTRACER_CONNECT = 1, /* an active connection established ('C') */
    TCPTRACER_ACCEPT = 2,  /* a passive connection accepted ('A') */
    TCPTRACER_CLOSE = 3,   /* an established connection closed ('X') */
};

struct tcptracer_event {
    __u64 ts_ns; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
    __u32 type;  /* enum tcptracer_type */
    __u32 pid;
    __u32 uid;
    __u16 family;
    __u16 sport; /* host order */
    __u16 dport; /* host order */
    __u16 pad[3];
    __u8 saddr[16];
    __u8 daddr[16];
    char comm[TCPTRACER_COMM_LEN];
};

#endif
