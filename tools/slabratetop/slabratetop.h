/* slabratetop: the per-cache counters the BPF side keeps, keyed by the cache's name. */
#ifndef CORETRACE_SLABRATETOP_H
#define CORETRACE_SLABRATETOP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Bytes of a cache name kept, NUL included (longer names are cut). */
#define SLABRATETOP_NAME_LEN 32

struct slabratetop_key {
    char name[SLABRATETOP_NAME_LEN];
};

struct slabratetop_value {
    __u64 count; /* allocations */
    __u64 bytes; /* allocations times the cache's object size (kmem_cache::size) */
};

#endif
