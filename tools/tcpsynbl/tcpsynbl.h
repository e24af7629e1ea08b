/* tcpsynbl: the histograms of listen backlog the BPF side fills, one per backlog limit. */
#ifndef CORETRACE_TCPSYNBL_H
#define CORETRACE_TCPSYNBL_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TCPSYNBL_MAX_SLOTS 32

struct tcpsynbl_hist {
    __u32 slots[TCPSYNBL_MAX_SLOTS];
};

#endif
