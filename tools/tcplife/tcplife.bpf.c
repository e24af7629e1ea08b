/* tcplife: one record per TCP session as it closes: its addresses, ports, owner, bytes sent and
 * received, and lifespan. Everything comes from sock:inet_sock_set_state, as in libbpf-tools,
 * plus the accept(2)/accept4(2) exits to learn who owns a passive socket.
 *
 * The owner reported is the one sock.bpf.h remembers (connect, accept, close); failing that,
 * the task current at the close, and the record says so (owner_known = 0). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <coretrace/events.bpf.h>
#include <coretrace/files.bpf.h>
#define CT_SOCK_OWNERS
#include <coretrace/sock.bpf.h>
#include "tcplife.h"

char LICENSE[] SEC("license") = "GPL";

/* -p: only sessions owned by this process (0: any). */
const volatile __u32 targ_pid = 0;
/* -4 / -6: only this family (0: any). */
const volatile __u16 targ_family = 0;
/* -L / -D: only these local / remote ports. */
const volatile __u16 targ_sports[CT_MAX_PORTS] = {};
const volatile __u32 targ_sports_len = 0;
const volatile __u16 targ_dports[CT_MAX_PORTS] = {};
const volatile __u32 targ_dports_len = 0;

/* Socket address -> when its session started. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u64);
    __type(value, __u64);
} birth SEC(".maps");

/* Sessions that could not be followed because `birth` was full: counted as lost. */
__u64 dropped = 0;

SEC("tp/sock/inet_sock_set_state")
int tcplife_state(struct trace_event_raw_inet_sock_set_state* ctx) {
    __u64 sk = (__u64)(unsigned long)ctx->skaddr;
    int oldstate = ctx->oldstate, newstate = ctx->newstate;
    struct tcplife_event* event;
    struct ct_sock_owner* owner;
    __u64 now, *start;
    struct tcp_sock* tp;

    if (ctx->protocol != CT_IPPROTO_TCP)
        return 0;
    /* A socket filtered out is still forgotten at its close (accept may have remembered it). */
    if ((targ_family && ctx->family != targ_family) ||
        !ct_port_in(ctx->sport, targ_sports, targ_sports_len) ||
        !ct_port_in(ctx->dport, targ_dports, targ_dports_len)) {
        if (newstate == CT_TCP_CLOSE)
            goto cleanup;
        return 0;
    }

    if (newstate < CT_TCP_FIN_WAIT1) {
        now = bpf_ktime_get_ns();
        if (bpf_map_update_elem(&birth, &sk, &now, BPF_ANY))
            __sync_fetch_and_add(&dropped, 1);
    }
    ct_owner_on_state(sk, oldstate, newstate);
    if (newstate != CT_TCP_CLOSE)
        return 0;

    start = bpf_map_lookup_elem(&birth, &sk);
    if (!start)
        goto cleanup;
    now = bpf_ktime_get_ns();
    owner = ct_owner_lookup(sk);
    if (targ_pid && (owner ? owner->pid : bpf_get_current_pid_tgid() >> 32) != targ_pid)
        goto cleanup;

    event = ct_event_reserve(sizeof(*event));
    if (!event)
        goto cleanup;
    tp = (struct tcp_sock*)(unsigned long)sk;
    event->ts_ns = now;
    event->span_ns = now - *start;
    event->rx_bytes = BPF_CORE_READ(tp, bytes_received);
    event->tx_bytes = BPF_CORE_READ(tp, bytes_acked);
    if (owner) {
        event->pid = owner->pid;
        event->owner_known = 1;
        __builtin_memcpy(event->comm, owner->comm, sizeof(event->comm));
    } else {
        event->pid = bpf_get_current_pid_tgid() >> 32;
        event->owner_known = 0;
        bpf_get_current_comm(event->comm, sizeof(event->comm));
    }
    {
        struct ct_sock_tuple tuple;

        ct_tuple_of_state(ctx, &tuple);
        event->family = tuple.family;
        event->sport = tuple.sport;
        event->dport = tuple.dport;
        event->pad = 0;
        __builtin_memcpy(event->saddr, tuple.saddr, sizeof(event->saddr));
        __builtin_memcpy(event->daddr, tuple.daddr, sizeof(event->daddr));
    }
    ct_event_submit(ctx, event, sizeof(*event));
cleanup:
    bpf_map_delete_elem(&birth, &sk);
    ct_owner_forget(sk);
    return 0;
}

/* accept(2) and accept4(2) return a new descriptor: its socket belongs to the caller. */
SEC("tp/syscalls/sys_exit_accept4")
int tcplife_accept4_exit(struct trace_event_raw_sys_exit* ctx) {
    ct_owner_on_accept(ctx->ret);
    return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int tcplife_accept_exit(struct trace_event_raw_sys_exit* ctx) {
    ct_owner_on_accept(ctx->ret);
    return 0;
}
