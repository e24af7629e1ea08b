/* hello: the seed's first program. Counts write(2) calls of one process (or thread) on the
 * sys_enter_write tracepoint and says so with bpf_printk. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <coretrace/filter.bpf.h>
#include "hello.h"

char LICENSE[] SEC("license") = "GPL";

/* Tags this run's trace lines; set before load. */
const volatile __u32 tool_pid = 0;
/* Writes seen, in .bss: user space reads the exact total after detaching. */
__u64 writes_seen = 0;

SEC("tp/syscalls/sys_enter_write")
int hello_write(struct trace_event_raw_sys_enter* ctx) {
    __u64 id = bpf_get_current_pid_tgid();
    __u64 n;

    if (!ct_pid_selected(id >> 32, (__u32)id))
        return 0;
    n = __sync_fetch_and_add(&writes_seen, 1) + 1;
    bpf_printk(HELLO_TAG "[%u]: write #%llu by PID %u", tool_pid, n, (__u32)(id >> 32));
    return 0;
}
