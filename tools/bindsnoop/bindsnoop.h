/* bindsnoop: the record the BPF side sends per bind(2) call on an IPv4/IPv6 socket. */
#ifndef CORETRACE_BINDSNOOP_H
#define CORETRACE_BINDSNOOP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define BINDSNOOP_COMM_LEN 16

/* Socket options, libbpf-tools' OPTS column "FTNRr" from its lowest bit. */
#define BINDSNOOP_OPT_FREEBIND 0x01
#define BINDSNOOP_OPT_TRANSPARENT 0x02
#define BINDSNOOP_OPT_BIND_ADDRESS_NO_PORT 0x04
#define BINDSNOOP_OPT_REUSEADDR 0x08
#define BINDSNOOP_OPT_REUSEPORT 0x10

struct bindsnoop_event {
    __u64 ts_ns; /* bpf_ktime_get_ns() at the return (CLOCK_MONOTONIC) */
    __u32 pid;
    __u32 tid;
    __u32 uid;
    __s32 ret;          /* 0 or -errno */
    __u32 bound_dev_if; /* SO_BINDTODEVICE interface index, 0: none */
    __u16 protocol;     /* IPPROTO_TCP, IPPROTO_UDP, ... */
    __u16 family;       /* AF_INET or AF_INET6, of the address passed */
    __u16 port;         /* host order, as passed */
    __u8 opts;          /* BINDSNOOP_OPT_* */
    __u8 pad;
    __u8 addr[16]; /* as passed; IPv4: first 4 bytes */
    char comm[BINDSNOOP_COMM_LEN];
};

#endif
