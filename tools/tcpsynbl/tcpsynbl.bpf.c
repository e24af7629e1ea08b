/* tcpsynbl: the accept backlog of TCP listeners each time a handshake completes, as log2
 * histograms keyed by the listener's backlog limit (listen(2)'s backlog, capped by somaxconn).
 *
 * libbpf-tools reads the listener's sk_ack_backlog and sk_max_ack_backlog at the entry of
 * tcp_v4_syn_recv_sock/tcp_v6_syn_recv_sock (fentry or kprobe). Here sock:inet_sock_set_state
 * LISTEN -> SYN_RECV: inet_csk_clone_lock sets this state on the new child socket first thing
 * after copying the listener (sk_clone_lock), so the child's two fields still hold the listener's
 * values, read at the same moment as libbpf-tools (before the child joins the accept queue). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
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

SEC("tp/sock/inet_sock_set_state")
int tcpsynbl_state(struct trace_event_raw_inet_sock_set_state* ctx) {
    const struct sock* child = ctx->skaddr;
    struct tcpsynbl_hist zero = {}, *hist;
    __u64 backlog, max;

    if (ctx->protocol != CT_IPPROTO_TCP || ctx->oldstate != CT_TCP_LISTEN ||
        ctx->newstate != CT_TCP_SYN_RECV)
        return 0;
    if (targ_family && ctx->family != targ_family)
        return 0;
    if (!ct_port_in(ctx->sport, targ_ports, targ_ports_len))
        return 0;
    max = BPF_CORE_READ(child, sk_max_ack_backlog);
    backlog = BPF_CORE_READ(child, sk_ack_backlog);
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
