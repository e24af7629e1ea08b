/* solisten: the record the BPF side sends per listen(2) call on an IPv4/IPv6 socket. */
#ifndef CORETRACE_SOLISTEN_H
#define CORETRACE_SOLISTEN_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SOLISTEN_COMM_LEN 16

struct solisten_event {
    __u64 ts_ns; /* bpf_ktime_get_ns() at the return (CLOCK_MONOTONIC) */
    __u32 pid;
    __u32 tid;
    __u32 uid;
    __s32 ret;     /* 0 or -errno */
    __s32 backlog; /* as passed */
    __u16 family;  /* AF_INET or AF_INET6 */
    __u16 type;    /* SOCK_STREAM, ... */
    __u16 port;    /* local port after the call, host order */
    __u16 pad;
    __u8 addr[16]; /* local address; IPv4: first 4 bytes */
    char comm[SOLISTEN_COMM_LEN];
};

#endif
