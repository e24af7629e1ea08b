/* tcpconnect: the record the BPF side sends per active TCP connection (connect(2)). */
#ifndef CORETRACE_TCPCONNECT_H
#define CORETRACE_TCPCONNECT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TCPCONNECT_COMM_LEN 16

struct tcpconnect_event {
    __u64 ts_ns; /* bpf_ktime_get_ns() when the connect was seen (CLOCK_MONOTONIC) */
    __u32 pid;   /* tgid of the task that called connect(2) */
    __u32 tid;
    __u32 uid;
    __u16 family; /* AF_INET or AF_INET6 */
    __u16 sport;  /* host order */
    __u16 dport;  /* host order */
    __u16 pad;
    __u8 saddr[16]; /* IPv4: first 4 bytes */
    __u8 daddr[16];
    char comm[TCPCONNECT_COMM_LEN];
};

#endif
