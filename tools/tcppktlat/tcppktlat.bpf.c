/* tcppktlat: the latency between a TCP data segment's arrival and the moment a user thread
 * picks the data up.
 *
 * As libbpf-tools: tcp:tcp_probe (a segment arrives on an established socket) stamps the
 * socket when the segment carries data; tcp:tcp_rcv_space_adjust (run by tcp_recvmsg in the
 * reading thread) sends the record for that thread; tcp:tcp_destroy_sock forgets the socket.
 * The segment's arrival is taken from the raw tracepoint (sock and skb, read through CO-RE, as
 * libbpf-tools does) where raw tracepoints work: tcp_probe's classic record only names the
 * socket (skaddr) since 6.2, so on older kernels it cannot be used; the classic record is the
 * fallback. Pick-up and destruction use the classic records, which carry the socket everywhere. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/events.bpf.h>
#include <coretrace/sock.bpf.h>
#include "tcppktlat.h"

char LICENSE[] SEC("license") = "GPL";

/* -l / -r: local / remote port (host order, 0: any); min_us argument. */
const volatile __u16 targ_sport = 0;
const volatile __u16 targ_dport = 0;
const volatile __u64 targ_min_ns = 0;

/* Socket address -> arrival of its last data segment not yet picked up. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u64);
    __type(value, __u64);
} start SEC(".maps");

__u64 dropped = 0;

/* A data segment (data_len > 0) arrived on `sk` with these host-order ports: stamp it. */
static __always_inline void arrived(__u64 sk, __u32 data_len, __u16 sport, __u16 dport) {
    __u64 now;

    if (!data_len)
        return;
    if ((targ_sport && sport != targ_sport) || (targ_dport && dport != targ_dport))
        return;
    now = bpf_ktime_get_ns();
    if (bpf_map_update_elem(&start, &sk, &now, BPF_ANY))
        __sync_fetch_and_add(&dropped, 1);
}

/* tcp_probe(struct sock *sk, struct sk_buff *skb): the payload is the skb's length less the
 * TCP header (doff words of 4 bytes), as the classic record's data_len. */
SEC("raw_tp/tcp_probe")
int tcppktlat_probe_raw(struct bpf_raw_tracepoint_args* ctx) {
    const struct sock* sk = (const struct sock*)ctx->args[0];
    const struct sk_buff* skb = (const struct sk_buff*)ctx->args[1];
    unsigned char* head = BPF_CORE_READ(skb, head);
    __u16 transport = BPF_CORE_READ(skb, transport_header);
    __u32 len = BPF_CORE_READ(skb, len);
    __u8 doff_byte = 0; /* the byte holding doff (high nibble) after the 12 bytes before it */
    __u32 header;

    bpf_probe_read_kernel(&doff_byte, 1, head + transport + 12);
    header = (doff_byte >> 4) * 4;
    arrived((__u64)(unsigned long)sk, len > header ? len - header : 0,
            BPF_CORE_READ(sk, __sk_common.skc_num),
            __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport)));
    return 0;
}

SEC("tp/tcp/tcp_probe")
int tcppktlat_probe(struct trace_event_raw_tcp_probe* ctx) {
    arrived((__u64)(unsigned long)ctx->skaddr, ctx->data_len, ctx->sport, ctx->dport);
    return 0;
}

/* The tuple of a tcp_event_sk record (same layout as inet_sock_set_state's address fields). */
static __always_inline void tuple_of(const struct trace_event_raw_tcp_event_sk* ctx,
                                     struct ct_sock_tuple* t) {
    __builtin_memset(t, 0, sizeof(*t));
    t->family = ctx->family;
    t->sport = ctx->sport;
    t->dport = ctx->dport;
    if (ctx->family == CT_AF_INET) {
        bpf_probe_read_kernel(t->saddr, 4, ctx->saddr);
        bpf_probe_read_kernel(t->daddr, 4, ctx->daddr);
    } else {
        bpf_probe_read_kernel(t->saddr, 16, ctx->saddr_v6);
        bpf_probe_read_kernel(t->daddr, 16, ctx->daddr_v6);
    }
}

SEC("tp/tcp/tcp_rcv_space_adjust")
int tcppktlat_pickup(struct trace_event_raw_tcp_event_sk* ctx) {
    __u64 sk = (__u64)(unsigned long)ctx->skaddr;
    __u64 id = bpf_get_current_pid_tgid();
    struct tcppktlat_event* event;
    struct ct_sock_tuple tuple;
    __u64 *arrived, now, delta;

    arrived = bpf_map_lookup_elem(&start, &sk);
    if (!arrived)
        return 0;
    now = bpf_ktime_get_ns();
    delta = now - *arrived;
    bpf_map_delete_elem(&start, &sk);
    if (!ct_current_selected() || delta < targ_min_ns)
        return 0;

    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    tuple_of(ctx, &tuple);
    event->ts_ns = now;
    event->delta_ns = delta;
    event->pid = id >> 32;
    event->tid = (__u32)id;
    event->family = tuple.family;
    event->sport = tuple.sport;
    event->dport = tuple.dport;
    event->pad = 0;
    __builtin_memcpy(event->saddr, tuple.saddr, sizeof(event->saddr));
    __builtin_memcpy(event->daddr, tuple.daddr, sizeof(event->daddr));
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}

SEC("tp/tcp/tcp_destroy_sock")
int tcppktlat_destroy(struct trace_event_raw_tcp_event_sk* ctx) {
    __u64 sk = (__u64)(unsigned long)ctx->skaddr;

    bpf_map_delete_elem(&start, &sk);
    return 0;
}
