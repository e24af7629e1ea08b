/* Stacks for the sampling and blocking tools (profile, offcputime, wakeuptime, memleak): one
 * stack trace map, sized by user space before load, and a note to user space the first time a
 * process shows up, so its mappings are read while it lives (C++ side: process_watch.hpp, the
 * symbolizer). The notes need coretrace/events.bpf.h, included before this; a tool with kernel
 * stacks only leaves it out and has no notes. */
#ifndef CORETRACE_STACKS_BPF_H
#define CORETRACE_STACKS_BPF_H

#include <bpf/bpf_helpers.h>
#include <coretrace/process_seen.h>

/* The kernel's PERF_MAX_STACK_DEPTH: frames kept per stack. */
#define CT_MAX_STACK_DEPTH 127

struct {
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, CT_MAX_STACK_DEPTH * sizeof(__u64));
    __uint(max_entries, 1024); /* --stack-storage-size */
} ct_stacks SEC(".maps");

/* Stacks that could not be stored: the map was full, or another stack had its hash. */
__u64 ct_stacks_missed = 0;

/* The id of the current kernel (user = false) or user stack in ct_stacks, or a negative errno
 * (counted in ct_stacks_missed unless it only means "no such stack": -EFAULT, a kernel thread's
 * user stack or a sample taken in user mode's kernel stack). */
static __always_inline __s32 ct_stack_id(void* ctx, bool user) {
    long id = bpf_get_stackid(ctx, &ct_stacks, user ? BPF_F_USER_STACK : 0);

    if (id < 0 && id != -14 /* EFAULT */)
        __sync_fetch_and_add(&ct_stacks_missed, 1);
    return (__s32)id;
}

#ifdef CORETRACE_EVENTS_BPF_H
/* Processes already announced. When it is full, new processes are not announced and are read at
 * the end instead, like any other. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8192);
    __type(key, __u32);
    __type(value, __u8);
} ct_seen_processes SEC(".maps");

/* Tells user space about `tgid` the first time it is seen. */
static __always_inline void ct_note_process(void* ctx, __u32 tgid) {
    __u8 one = 1;
    struct ct_process_seen* record;

    if (bpf_map_update_elem(&ct_seen_processes, &tgid, &one, BPF_NOEXIST) != 0)
        return; /* known already, or the table is full */
    record = ct_event_reserve(sizeof(*record));
    if (!record)
        return;
    record->tgid = tgid;
    ct_event_submit(ctx, record, sizeof(*record));
}
#endif

#endif
