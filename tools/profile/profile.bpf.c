/* profile: CPU stacks by sampling. A cpu-clock perf event fires FREQUENCY times a second on each
 * CPU (user space opens them); at each sample this program counts the (process, user stack,
 * kernel stack) of the task on the CPU. The stacks go into the shared stack map; the first sample
 * of a process tells user space, which reads its mappings while it lives. The idle task is left
 * out unless asked for. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <coretrace/events.bpf.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/stacks.bpf.h>
#include "profile.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool include_idle = false;
const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024); /* set to --stack-storage-size */
    __type(key, struct profile_key);
    __type(value, __u64);
} counts SEC(".maps");

/* Samples not counted because the counts map was full. */
__u64 samples_dropped = 0;

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data* ctx) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, tid = (__u32)id;
    struct profile_key key = {};
    __u64 one = 1, *count;

    if (tid == 0 && !include_idle)
        return 0;
    if (!ct_current_selected())
        return 0;
    key.tgid = tgid;
    bpf_get_current_comm(key.comm, sizeof(key.comm));
    key.user_stack_id = user_stacks && tgid ? ct_stack_id(ctx, true) : -1;
    key.kern_stack_id = kernel_stacks ? ct_stack_id(ctx, false) : -1;
    if (tgid)
        ct_note_process(ctx, tgid);

    count = bpf_map_lookup_elem(&counts, &key);
    if (count) {
        __sync_fetch_and_add(count, 1);
        return 0;
    }
    if (bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST) == 0)
        return 0;
    count = bpf_map_lookup_elem(&counts, &key); /* another CPU added it meanwhile */
    if (count)
        __sync_fetch_and_add(count, 1);
    else
        __sync_fetch_and_add(&samples_dropped, 1);
    return 0;
}
