/* funclatency: what the BPF side and user space share: the histogram's size and the units. */
#ifndef CORETRACE_FUNCLATENCY_H
#define CORETRACE_FUNCLATENCY_H

/* Slot i counts latencies in [2^i, 2^(i+1)) units; the last also counts everything longer. */
#define FUNCLATENCY_SLOTS 36

enum funclatency_units {
    FUNCLATENCY_NSEC = 0,
    FUNCLATENCY_USEC = 1,
    FUNCLATENCY_MSEC = 2,
};

#endif
