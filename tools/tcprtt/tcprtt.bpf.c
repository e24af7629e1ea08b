/* tcprtt: histograms of TCP smoothed round-trip time (srtt), sampled on each segment a socket
 * receives in the ESTABLISHED state.
 *
 * Where fentry or kprobes work, libbpf-tools' hook: tcp_rcv_established's entry, reading the
 * socket's tcp_sock.srtt_us, ports and addresses through CO-RE. Elsewhere the tcp:tcp_probe
 * tracepoint, which fires at the start of tcp_rcv_established with the same socket's srtt
 * (already shifted: microseconds), ports and addresses. Same samples either way. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/log2.bpf.h>
#include <coretrace/sock.bpf.h>
#include "tcprtt.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool targ_ms = false;
/* -b / -B: one histogram per local / remote address. */
const volatile bool targ_laddr_hist = false;
const volatile bool targ_raddr_hist = false;
/* -p / -P: local / remote port (host order, 0: any). */
const volatile __u16 targ_sport = 0;
const volatile __u16 targ_dport = 0;
/* -a / -A: local / remote address (family 0: any). */
const volatile __u16 targ_saddr_family = 0;
const volatile __u8 targ_saddr[16] = {};
const volatile __u16 targ_daddr_family = 0;
const volatile __u8 targ_daddr[16] = {};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct tcprtt_key);
    __type(value, struct tcprtt_hist);
} hists SEC(".maps");

/* Samples not counted because `hists` was full. */
__u64 dropped = 0;

/* The address part of the tracepoint's sockaddr (sockaddr_in or sockaddr_in6), into 16 bytes
 * (read with a helper: the context allows loads at fixed offsets only). */
static __always_inline void address_of(const __u8* sockaddr, __u16 family, __u8* out) {
    __builtin_memset(out, 0, 16);
    if (family == CT_AF_INET)
        bpf_probe_read_kernel(out, 4, sockaddr + 4); /* sin_addr */
    else
        bpf_probe_read_kernel(out, 16, sockaddr + 8); /* sin6_addr */
}

static __always_inline bool address_matches(const __u8* addr, __u16 family, __u16 want_family,
                                            const volatile __u8* want) {
    if (!want_family)
        return true;
    if (family != want_family)
        return false;
    for (int i = 0; i < 16; i++)
        if (addr[i] != want[i])
            return false;
    return true;
}

/* One srtt sample (microseconds) of a connection: filtered, then counted in its histogram. */
static __always_inline int sample(__u16 family, __u16 sport, __u16 dport, const __u8* saddr,
                                  const __u8* daddr, __u64 srtt) {
    struct tcprtt_hist zero = {}, *hist;
    struct tcprtt_key key = {};

    if ((targ_sport && sport != targ_sport) || (targ_dport && dport != targ_dport))
        return 0;
    if (!address_matches(saddr, family, targ_saddr_family, targ_saddr) ||
        !address_matches(daddr, family, targ_daddr_family, targ_daddr))
        return 0;

    if (targ_laddr_hist || targ_raddr_hist) {
        key.family = family;
        __builtin_memcpy(key.addr, targ_laddr_hist ? saddr : daddr, 16);
    }
    hist = bpf_map_lookup_elem(&hists, &key);
    if (!hist) {
        if (bpf_map_update_elem(&hists, &key, &zero, BPF_NOEXIST) &&
            !bpf_map_lookup_elem(&hists, &key)) {
            __sync_fetch_and_add(&dropped, 1);
            return 0;
        }
        hist = bpf_map_lookup_elem(&hists, &key);
        if (!hist)
            return 0;
    }
    if (targ_ms)
        srtt /= 1000;
    __sync_fetch_and_add(&hist->slots[ct_log2_slot(srtt, TCPRTT_MAX_SLOTS)], 1);
    __sync_fetch_and_add(&hist->latency, srtt);
    __sync_fetch_and_add(&hist->count, 1);
    return 0;
}

/* tcp_rcv_established(sk, skb): the socket's own fields (srtt_us holds 8 times the srtt). */
static __always_inline int sample_sock(struct sock* sk) {
    struct ct_sock_tuple tuple;
    __u64 srtt;

    ct_tuple_of_sock(sk, &tuple);
    if (tuple.family != CT_AF_INET && tuple.family != CT_AF_INET6)
        return 0;
    srtt = BPF_CORE_READ((struct tcp_sock*)sk, srtt_us) >> 3;
    return sample(tuple.family, tuple.sport, tuple.dport, tuple.saddr, tuple.daddr, srtt);
}

SEC("fentry/tcp_rcv_established")
int BPF_PROG(tcprtt_rcv_established, struct sock* sk) {
    return sample_sock(sk);
}

SEC("kprobe/tcp_rcv_established")
int BPF_KPROBE(tcprtt_rcv_established_kprobe, struct sock* sk) {
    return sample_sock(sk);
}

SEC("tp/tcp/tcp_probe")
int tcprtt_probe(struct trace_event_raw_tcp_probe* ctx) {
    __u8 saddr[16], daddr[16];
    __u16 family = ctx->family;

    if (family != CT_AF_INET && family != CT_AF_INET6)
        return 0;
    address_of(ctx->saddr, family, saddr);
    address_of(ctx->daddr, family, daddr);
    return sample(family, ctx->sport, ctx->dport, saddr, daddr, ctx->srtt);
}
