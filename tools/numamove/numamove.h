/* numamove: page migration counters per migration reason, shared by both sides. */
#ifndef CORETRACE_NUMAMOVE_H
#define CORETRACE_NUMAMOVE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Slots of the per-reason array: enum migrate_reason's values, the last one for any larger. */
#define NUMAMOVE_REASONS 16

struct numamove_stat {
    __u64 migrations;      /* migrate_pages() calls that ended (mm_migrate_pages events) */
    __u64 succeeded;       /* pages (base pages) migrated */
    __u64 failed;          /* pages that could not be migrated */
    __u64 latency_ns;      /* summed time from mm_migrate_pages_start to mm_migrate_pages */
    __u64 latency_samples; /* migrations whose start was seen */
};

#endif
