/* tcptop: the per-connection traffic map the BPF side fills and user space reads each interval. */
#ifndef CORETRACE_TCPTOP_H
#define CORETRACE_TCPTOP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TCPTOP_COMM_LEN 16

struct tcptop_key {
    __u32 pid; /* the task that sent or received (tgid) */
    __u16 family;
    __u16 lport; /* host order */
    __u16 dport; /* host order */
    __u16 pad[3];
    __u8 saddr[16];
    __u8 daddr[16];
    char comm[TCPTOP_COMM_LEN];
};

struct tcptop_traffic {
    __u64 sent;     /* bytes */
    __u64 received; /* bytes */
};

#endif
