/* tcplife: the record the BPF side sends per TCP session when it closes. */
#ifndef CORETRACE_TCPLIFE_H
#define CORETRACE_TCPLIFE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TCPLIFE_COMM_LEN 16

struct tcplife_event {
    __u64 ts_ns;       /* bpf_ktime_get_ns() at the close (CLOCK_MONOTONIC) */
    __u64 span_ns;     /* from the last state before FIN_WAIT1 (the session's start) to the close */
    __u64 rx_bytes;    /* tcp_sock.bytes_received */
    __u64 tx_bytes;    /* tcp_sock.bytes_acked */
    __u32 pid;         /* the socket's owner (see tcplife.bpf.c), or the current task */
    __u32 owner_known; /* 1: pid/comm are the owner's; 0: the task current at the close */
    __u16 family;
    __u16 sport; /* local, host order */
    __u16 dport; /* remote, host order */
    __u16 pad;
    __u8 saddr[16];
    __u8 daddr[16];
    char comm[TCPLIFE_COMM_LEN];
};

#endif
