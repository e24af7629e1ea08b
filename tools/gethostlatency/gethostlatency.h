/* gethostlatency: the record the BPF side sends per host name lookup, and the limits both sides
 * share. */
#ifndef CORETRACE_GETHOSTLATENCY_H
#define CORETRACE_GETHOSTLATENCY_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define GETHOSTLATENCY_COMM_LEN 16
/* Bytes of the host name kept, NUL included (a DNS name has at most 253 characters). */
#define GETHOSTLATENCY_HOST_LEN 256

/* Which function: the cookie of its probes. */
enum gethostlatency_function {
    GETHOSTLATENCY_GETADDRINFO = 0,
    GETHOSTLATENCY_GETHOSTBYNAME = 1,
    GETHOSTLATENCY_GETHOSTBYNAME2 = 2,
    GETHOSTLATENCY_FUNCTIONS = 3,
};

struct gethostlatency_event {
    __u64 ts_ns;      /* bpf_ktime_get_ns() at the return (CLOCK_MONOTONIC) */
    __u64 latency_ns; /* from the call to its return */
    __u32 pid;        /* tgid */
    __u32 tid;
    __u32 function;  /* enum gethostlatency_function */
    __u32 truncated; /* 1 when the host name was longer than GETHOSTLATENCY_HOST_LEN - 1 bytes */
    __s32 ret;       /* the return value as an int: getaddrinfo's error code; for
                        gethostbyname*, 1 when a hostent came back and 0 for NULL */
    __u32 pad;
    char comm[GETHOSTLATENCY_COMM_LEN];
    char host[GETHOSTLATENCY_HOST_LEN]; /* NUL-terminated; "" when it could not be read */
};

#endif
