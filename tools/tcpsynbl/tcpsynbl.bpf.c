/* tcpsynbl: the accept backlog of TCP listeners each time a handshake completes, as log2
 * histograms keyed by the listener's backlog limit (listen(2)'s backlog, capped by somaxconn).
 *
 * Where fentry or kprobes work, libbpf-tools' hooks: the entry of tcp_v4_syn_recv_sock /
 * tcp_v6_syn_recv_sock, reading the listener's sk_ack_backlog and sk_max_ack_backlog as the
 * handshake completes; these also see handshakes the kernel then drops because the accept queue
 * is full (backlog at its limit). An IPv4 handshake on a dual-stack IPv6 listener goes through
 * both functions: it is counted once, in the IPv6 one.
 *
 * Elsewhere sock:inet_sock_set_state LISTEN -> SYN_RECV: inet_csk_clone_lock sets this state on
 * the new child socket first thing after copying the listener (sk_clone_lock), so the child's
 * two fields still hold the listener's values, read at the same moment as libbpf-tools (before
 * the child joins the accept queue). A handshake dropped at a full queue creates no child and
 * is not seen. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/log2.bpf.h>
#include <coretrace/sock.bpf.h>
#include "tcpsynbl.h"

char LICENSE[] SEC("license") = "GPL";

/* -4 / -6: only this family (0: any). */
const volatile __u16 targ_family = 0;
/* -L: only listeners on these local ports. */
const volatile __u16 targ_ports[CT_MAX_PORTS] = {};
const volatile __u32 targ_ports_len = 0;

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u64); /* the backlog limit */
    __type(value, struct tcpsynbl_hist);
} hists SEC(".maps");

__u64 dropped = 0;

/* One completed handshake on a listener whose (or whose copy's) fields `sk` holds. */
static __always_inline int count(const struct sock* sk, __u16 family, __u16 port) {
    struct tcpsynbl_hist zero = {}, *hist;
    __u64 backlog, max;

    if (targ_family && family != targ_family)
        return 0;
    if (!ct_port_in(port, targ_ports, targ_ports_len))
        return 0;
    max = BPF_CORE_READ(sk, sk_max_ack_backlog);
    backlog = BPF_CORE_READ(sk, sk_ack_backlog);
    hist = bpf_map_lookup_elem(&hists, &max);
    if (!hist) {
        if (bpf_map_update_elem(&hists, &max, &zero, BPF_NOEXIST) &&
            !bpf_map_lookup_elem(&hists, &max)) {
            __sync_fetch_and_add(&dropped, 1);
            return 0;
        }
        hist = bpf_map_lookup_elem(&hists, &max);
        if (!hist)
            return 0;
    }
    __sync_fetch_and_add(&hist->slots[ct_log2_slot(backlog, TCPSYNBL_MAX_SLOTS)], 1);
    return 0;
}

/* The listener at tcp_vX_syn_recv_sock's entry, counted by the function of its own family. */
static __always_inline int count_listener(const struct sock* listener, __u16 family) {
    if (BPF_CORE_READ(listener, __sk_common.skc_family) != family)
        return 0;
    return count(listener, family, BPF_CORE_READ(listener, __sk_common.skc_num));
}

SEC("fentry/tcp_v4_syn_recv_sock")
int BPF_PROG(tcpsynbl_v4, const struct sock* sk) {
    return count_listener(sk, CT_AF_INET);
}

SEC("kprobe/tcp_v4_syn_recv_sock")
int BPF_KPROBE(tcpsynbl_v4_kprobe, const struct sock* sk) {
    return count_listener(sk, CT_AF_INET);
}

SEC("fentry/tcp_v6_syn_recv_sock")
int BPF_PROG(tcpsynbl_v6, const struct sock* sk) {
    return count_listener(sk, CT_AF_INET6);
}

SEC("kprobe/tcp_v6_syn_recv_sock")
int BPF_KPROBE(tcpsynbl_v6_kprobe, const struct sock* sk) {
    return count_listener(sk, CT_AF_INET6);
}

SEC("tp/sock/inet_sock_set_state")
int tcpsynbl_state(struct trace_event_raw_inet_sock_set_state* ctx) {
    if (ctx->protocol != CT_IPPROTO_TCP || ctx->oldstate != CT_TCP_LISTEN ||
        ctx->newstate != CT_TCP_SYN_RECV)
        return 0;
    return count(ctx->skaddr, ctx->family, ctx->sport);
}
