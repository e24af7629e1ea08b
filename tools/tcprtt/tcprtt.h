/* tcprtt: the histograms of smoothed RTT the BPF side fills, per address or for all. */
#ifndef CORETRACE_TCPRTT_H
#define CORETRACE_TCPRTT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TCPRTT_MAX_SLOTS 27

/* The histogram's key: family 0 and a zero address for "All Addresses" (no -b/-B). */
struct tcprtt_key {
    __u16 family;
    __u16 pad[3];
    __u8 addr[16];
};

struct tcprtt_hist {
    __u64 latency; /* sum of the samples, in the histogram's unit */
    __u64 count;
    __u32 slots[TCPRTT_MAX_SLOTS];
    __u32 pad;
};

#endif
