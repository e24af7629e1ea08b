/* tcpconnlat: the latency of active TCP connects: from the SYN to the handshake's end.
 *
 * libbpf-tools times tcp_v4_connect/tcp_v6_connect (kprobes) to tcp_rcv_state_process; here
 * both ends are sock:inet_sock_set_state changes of the connecting socket: CLOSE -> SYN_SENT
 * runs inside connect(2), in the connecting task (filters applied there, task remembered under
 * the socket's address), and SYN_SENT -> ESTABLISHED ends it, usually in softirq context, where
 * the remembered task is reported. A socket leaving SYN_SENT for CLOSE (refused, timed out) is
 * forgotten without a record. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/events.bpf.h>
#include <coretrace/sock.bpf.h>
#include "tcpconnlat.h"

char LICENSE[] SEC("license") = "GPL";

/* min_ms argument: only connects at least this slow (0: all). */
const volatile __u64 targ_min_ns = 0;

struct start {
    __u64 ts_ns;
    __u32 pid;
    __u32 tid;
    char comm[TCPCONNLAT_COMM_LEN];
};

/* Socket address -> its SYN_SENT. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u64);
    __type(value, struct start);
} starts SEC(".maps");

__u64 dropped = 0;

SEC("tp/sock/inet_sock_set_state")
int tcpconnlat_state(struct trace_event_raw_inet_sock_set_state* ctx) {
    __u64 sk = (__u64)(unsigned long)ctx->skaddr;
    struct tcpconnlat_event* event;
    struct ct_sock_tuple tuple;
    struct start* started;
    struct start start = {};
    __u64 now;

    if (ctx->protocol != CT_IPPROTO_TCP)
        return 0;
    if (ctx->oldstate == CT_TCP_CLOSE && ctx->newstate == CT_TCP_SYN_SENT) {
        __u64 id = bpf_get_current_pid_tgid();

        if (!ct_current_selected())
            return 0;
        start.ts_ns = bpf_ktime_get_ns();
        start.pid = id >> 32;
        start.tid = (__u32)id;
        bpf_get_current_comm(start.comm, sizeof(start.comm));
        if (bpf_map_update_elem(&starts, &sk, &start, BPF_ANY))
            __sync_fetch_and_add(&dropped, 1);
        return 0;
    }
    if (ctx->oldstate != CT_TCP_SYN_SENT)
        return 0;
    started = bpf_map_lookup_elem(&starts, &sk);
    if (!started)
        return 0;
    start = *started;
    bpf_map_delete_elem(&starts, &sk);
    if (ctx->newstate != CT_TCP_ESTABLISHED)
        return 0;
    now = bpf_ktime_get_ns();
    if (now - start.ts_ns < targ_min_ns)
        return 0;

    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    ct_tuple_of_state(ctx, &tuple);
    event->ts_ns = now;
    event->delta_ns = now - start.ts_ns;
    event->pid = start.pid;
    event->tid = start.tid;
    event->family = tuple.family;
    event->sport = tuple.sport;
    event->dport = tuple.dport;
    event->pad = 0;
    __builtin_memcpy(event->saddr, tuple.saddr, sizeof(event->saddr));
    __builtin_memcpy(event->daddr, tuple.daddr, sizeof(event->daddr));
    __builtin_memcpy(event->comm, start.comm, sizeof(event->comm));
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}
