/* Test program for the typed map views: every getppid(2) of the filtered thread bumps an array,
 * a per-CPU array, a hash and a per-CPU hash, each keyed so that the test knows the totals. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <coretrace/filter.bpf.h>

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} calls_array SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32); /* 4 bytes: the kernel pads each CPU's copy to 8 */
} calls_percpu_array SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, __u64);
} calls_by_tid SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
    __uint(max_entries, 64);
    __type(key, __u32);
    __type(value, __u64);
} calls_by_tid_percpu SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int maps_probe(void* ctx) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid(), zero = 0;
    __u64 one = 1, *count;
    __u32* small;

    if (!ct_current_selected())
        return 0;
    count = bpf_map_lookup_elem(&calls_array, &zero);
    if (count)
        __sync_fetch_and_add(count, 1);
    small = bpf_map_lookup_elem(&calls_percpu_array, &zero);
    if (small)
        *small += 1;
    count = bpf_map_lookup_elem(&calls_by_tid, &tid);
    if (count)
        __sync_fetch_and_add(count, 1);
    else
        bpf_map_update_elem(&calls_by_tid, &tid, &one, BPF_NOEXIST);
    count = bpf_map_lookup_elem(&calls_by_tid_percpu, &tid);
    if (count)
        *count += 1;
    else
        bpf_map_update_elem(&calls_by_tid_percpu, &tid, &one, BPF_NOEXIST);
    return 0;
}
