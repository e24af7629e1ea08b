/* tcpconnlat: the latency of active TCP connects: from the SYN to the handshake's end.
 *
 * Two hook paths, chosen by user space (the first row of its hook table decides):
 *
 * Function hooks (where the kernel allows fentry/fexit), as libbpf-tools does: fentry on
 * tcp_v4_connect/tcp_v6_connect, in the connecting task, applies the filters and remembers the
 * task and the time under the socket's address; the exit of tcp_rcv_state_process, which runs
 * the handshake's SYN-ACK (usually in softirq context), reports the remembered task when the
 * socket has gone from SYN_SENT to ESTABLISHED, and forgets it when the socket went to CLOSE
 * (refused). tcp:tcp_destroy_sock forgets the sockets destroyed before either (a timeout, a close
 * during the handshake, a connect that failed before its SYN), so no stale entry outlives its
 * socket (libbpf-tools does the same).
 *
 * Tracepoints (elsewhere): both ends are sock:inet_sock_set_state changes of the connecting
 * socket: CLOSE -> SYN_SENT runs inside connect(2), in the connecting task (filters applied
 * there, task remembered under the socket's address), and SYN_SENT -> ESTABLISHED ends it. A
 * socket leaving SYN_SENT for CLOSE (refused, timed out) is forgotten without a record. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
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

/* Socket address -> its connect's start. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u64);
    __type(value, struct start);
} starts SEC(".maps");

__u64 dropped = 0;

/* The current task starts connecting `sk`: remembered if it passes the filters. */
static __always_inline void remember_start(__u64 sk) {
    struct start start = {};
    __u64 id = bpf_get_current_pid_tgid();

    if (!ct_current_selected())
        return;
    start.ts_ns = bpf_ktime_get_ns();
    start.pid = id >> 32;
    start.tid = (__u32)id;
    bpf_get_current_comm(start.comm, sizeof(start.comm));
    if (bpf_map_update_elem(&starts, &sk, &start, BPF_ANY))
        __sync_fetch_and_add(&dropped, 1);
}

/* The handshake of `sk` ended (ESTABLISHED) with this tuple: the record, if slow enough. */
static __always_inline void report(void* ctx, const struct start* start,
                                   const struct ct_sock_tuple* tuple) {
    struct tcpconnlat_event* event;
    __u64 now = bpf_ktime_get_ns();

    if (now - start->ts_ns < targ_min_ns)
        return;
    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return;
    event->ts_ns = now;
    event->delta_ns = now - start->ts_ns;
    event->pid = start->pid;
    event->tid = start->tid;
    event->family = tuple->family;
    event->sport = tuple->sport;
    event->dport = tuple->dport;
    event->pad = 0;
    __builtin_memcpy(event->saddr, tuple->saddr, sizeof(event->saddr));
    __builtin_memcpy(event->daddr, tuple->daddr, sizeof(event->daddr));
    __builtin_memcpy(event->comm, start->comm, sizeof(event->comm));
    ct_event_submit(ctx, event, sizeof(*event));
}

/* Takes the socket's start into `out`; false when it has none. */
static __always_inline bool take_start(__u64 sk, struct start* out) {
    struct start* started = bpf_map_lookup_elem(&starts, &sk);

    if (!started)
        return false;
    *out = *started;
    bpf_map_delete_elem(&starts, &sk);
    return true;
}

/* ---- function-hook path ---------------------------------------------------------------- */

static __always_inline int on_connect(struct sock* sk, __u16 family) {
    /* An IPv6 socket in tcp_v4_connect: an IPv4-mapped destination, started by the IPv6
     * entry, which came first. */
    if (BPF_CORE_READ(sk, __sk_common.skc_family) != family)
        return 0;
    remember_start((__u64)(unsigned long)sk);
    return 0;
}

SEC("fentry/tcp_v4_connect")
int BPF_PROG(tcpconnlat_v4_connect, struct sock* sk) {
    return on_connect(sk, CT_AF_INET);
}

SEC("fentry/tcp_v6_connect")
int BPF_PROG(tcpconnlat_v6_connect, struct sock* sk) {
    return on_connect(sk, CT_AF_INET6);
}

SEC("fexit/tcp_rcv_state_process")
int BPF_PROG(tcpconnlat_rcv_state, struct sock* sk) {
    __u64 key = (__u64)(unsigned long)sk;
    struct ct_sock_tuple tuple;
    struct start start;
    int state;

    if (!bpf_map_lookup_elem(&starts, &key))
        return 0;
    state = BPF_CORE_READ(sk, __sk_common.skc_state);
    /* Still SYN_SENT (a segment that did not end the handshake), or SYN_RECV (a simultaneous
     * open, which ends in a later call): not yet. */
    if (state != CT_TCP_ESTABLISHED && state != CT_TCP_CLOSE)
        return 0;
    if (!take_start(key, &start) || state != CT_TCP_ESTABLISHED)
        return 0;
    ct_tuple_of_sock(sk, &tuple);
    report(ctx, &start, &tuple);
    return 0;
}

SEC("tp/tcp/tcp_destroy_sock")
int tcpconnlat_destroy(struct trace_event_raw_tcp_event_sk* ctx) {
    __u64 sk = (__u64)(unsigned long)ctx->skaddr;

    bpf_map_delete_elem(&starts, &sk);
    return 0;
}

/* ---- tracepoint path ------------------------------------------------------------------- */

SEC("tp/sock/inet_sock_set_state")
int tcpconnlat_state(struct trace_event_raw_inet_sock_set_state* ctx) {
    __u64 sk = (__u64)(unsigned long)ctx->skaddr;
    struct ct_sock_tuple tuple;
    struct start start;

    if (ctx->protocol != CT_IPPROTO_TCP)
        return 0;
    if (ctx->oldstate == CT_TCP_CLOSE && ctx->newstate == CT_TCP_SYN_SENT) {
        remember_start(sk);
        return 0;
    }
    if (ctx->oldstate != CT_TCP_SYN_SENT || !take_start(sk, &start) ||
        ctx->newstate != CT_TCP_ESTABLISHED)
        return 0;
    ct_tuple_of_state(ctx, &tuple);
    report(ctx, &start, &tuple);
    return 0;
}
