/* What a system call's entry program keeps for its exit program, which sees only the result:
 * the call's arguments (or any per-call state), in a hash map keyed by thread ID, as a thread is
 * in one system call at a time. The tool declares the map and the counter of calls it could not
 * keep (reported as lost). */
#ifndef CORETRACE_SYSCALL_ARGS_BPF_H
#define CORETRACE_SYSCALL_ARGS_BPF_H

#include <bpf/bpf_helpers.h>

/* At the entry: keeps `args` under `tid` in `map`, replacing what an entry whose exit was never
 * seen left there; a full map is counted in *dropped. */
static __always_inline void ct_args_keep(void* map, __u32 tid, const void* args, __u64* dropped) {
    if (bpf_map_update_elem(map, &tid, args, BPF_ANY))
        __sync_fetch_and_add(dropped, 1);
}

/* At the exit: takes what the entry kept under `tid` out of `map` into `args` (`size` bytes, the
 * map's value size); false when there is nothing (the call began before the entry program was
 * attached, or the entry filtered it out). */
static __always_inline bool ct_args_take(void* map, __u32 tid, void* args, __u32 size) {
    void* stored = bpf_map_lookup_elem(map, &tid);

    if (!stored)
        return false;
    __builtin_memcpy(args, stored, size);
    bpf_map_delete_elem(map, &tid);
    return true;
}

#endif
