/* gethostlatency: the latency of host name lookups through libc's getaddrinfo(),
 * gethostbyname() and gethostbyname2(). A uprobe at each function's entry stores the time and
 * the pointer to the host name (the first argument) in `starts`, keyed by thread; the uretprobe
 * at its return takes them back, reads the name and sends one record. The name is read at the
 * return, not at the entry: a uprobe cannot fault pages in, and a name in a page the caller had
 * not touched yet (a string constant of a freshly forked process) is unreadable at the entry,
 * while the lookup itself has read it by the time it returns. Which function it is comes from
 * the probes' cookie. The process filter is in the kernel twice over: with -p the probes are
 * attached to that process only, and ct_current_selected() checks it again. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/events.bpf.h>
#include "gethostlatency.h"

char LICENSE[] SEC("license") = "GPL";

struct start {
    __u64 ts_ns;
    __u64 host; /* the caller's pointer to the host name */
    __u32 function;
    __u32 pad;
};

/* Thread ID -> the lookup it is in (a nested lookup replaces the outer one's start). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct start);
} starts SEC(".maps");

/* Lookups not followed because `starts` was full: counted as lost. */
__u64 starts_dropped = 0;

SEC("uprobe")
int lookup_entry(struct pt_regs* ctx) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct start start = {};

    if (!ct_current_selected())
        return 0;
    start.host = (__u64)PT_REGS_PARM1(ctx);
    start.function = (__u32)bpf_get_attach_cookie(ctx);
    start.ts_ns = bpf_ktime_get_ns();
    if (bpf_map_update_elem(&starts, &tid, &start, BPF_ANY))
        __sync_fetch_and_add(&starts_dropped, 1);
    return 0;
}

SEC("uretprobe")
int lookup_return(struct pt_regs* ctx) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct gethostlatency_event* event;
    struct start* start;
    __u64 now = bpf_ktime_get_ns();
    const char* host;
    long len;

    start = bpf_map_lookup_elem(&starts, &tid);
    if (!start)
        return 0; /* attached between this call's entry and its return, or not selected */
    host = (const char*)start->host;
    event = ct_event_reserve(sizeof(*event));
    if (!event) {
        bpf_map_delete_elem(&starts, &tid);
        return 0;
    }
    event->ts_ns = now;
    event->latency_ns = now - start->ts_ns;
    event->pid = id >> 32;
    event->tid = tid;
    event->function = start->function;
    event->truncated = 0;
    if (start->function == GETHOSTLATENCY_GETADDRINFO)
        event->ret = (__s32)PT_REGS_RC(ctx);
    else
        event->ret = PT_REGS_RC(ctx) != 0;
    event->pad = 0;
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    len = bpf_probe_read_user_str(event->host, sizeof(event->host), host);
    if (len <= 0) {
        event->host[0] = '\0';
    } else if (len == GETHOSTLATENCY_HOST_LEN) {
        char next = 0;

        if (bpf_probe_read_user(&next, 1, host + GETHOSTLATENCY_HOST_LEN - 1) || next != '\0')
            event->truncated = 1;
    }
    bpf_map_delete_elem(&starts, &tid);
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}
