/* memleak: what the BPF side and user space share: one outstanding allocation, the per-stack
 * totals of --combined-only, and the records of -t (one per allocator call seen). */
#ifndef CORETRACE_MEMLEAK_H
#define CORETRACE_MEMLEAK_H

/* Outstanding allocations tracked at once; more are counted in allocs_untracked. */
#define MEMLEAK_MAX_ALLOCS 1000000
/* Default depth and number of stacks of the stack map (--perf-max-stack-depth,
 * --stack-storage-size). */
#define MEMLEAK_STACK_DEPTH 127
#define MEMLEAK_STACKS 10240

/* An outstanding allocation, keyed by its address (kernel: by page frame number for pages). */
struct memleak_alloc {
    __u64 size;
    __u64 timestamp_ns; /* bpf_ktime_get_ns() when it was made */
    __s64 stack_id;     /* bpf_get_stackid(): < 0 when no stack could be recorded */
};

/* Per stack id, for --combined-only: what is outstanding from that stack. */
struct memleak_combined {
    __u64 total_size;
    __u64 number_of_allocs;
};

enum memleak_op {
    MEMLEAK_ALLOC = 1, /* an allocation returned `address` for `size` bytes */
    MEMLEAK_FREE = 2,  /* `address` (of `size` bytes, 0 when not tracked) was freed */
};

/* -t: one allocator call. */
struct memleak_event {
    __u64 ts_ns;
    __u64 address;
    __u64 size;
    __u32 op;
    __u32 pid;
    __u32 tid;
    __u32 pad;
};

#endif
