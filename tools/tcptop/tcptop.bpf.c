/* tcptop: bytes sent and received per TCP connection and process, summed in a map that user
 * space reads and clears every interval.
 *
 * libbpf-tools hooks tcp_sendmsg and tcp_cleanup_rbuf with kprobes; here sock:sock_send_length
 * and sock:sock_recv_length, which fire at the end of sock_sendmsg/sock_recvmsg in the calling
 * task with the bytes moved. They see send(2)/write(2)/recv(2)/read(2) and their vector forms on
 * sockets; they do not see sendfile(2)/splice(2) (which go through tcp_sendmsg_locked or
 * tcp_splice_read without sock_sendmsg/sock_recvmsg) nor zero-copy receive. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/sock.bpf.h>
#include "tcptop.h"

char LICENSE[] SEC("license") = "GPL";

/* -4 / -6: only this family (0: any). */
const volatile __u16 targ_family = 0;

#define CT_MSG_PEEK 2

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, struct tcptop_key);
    __type(value, struct tcptop_traffic);
} traffic SEC(".maps");

/* Transfers not counted because `traffic` was full. */
__u64 dropped = 0;

static __always_inline int count(struct trace_event_raw_sock_msg_length* ctx, bool sent) {
    struct tcptop_traffic* value;
    struct tcptop_traffic zero = {};
    struct ct_sock_tuple tuple;
    struct tcptop_key key = {};

    if (ctx->protocol != CT_IPPROTO_TCP || ctx->ret <= 0)
        return 0;
    if (ctx->family != CT_AF_INET && ctx->family != CT_AF_INET6)
        return 0;
    if (targ_family && ctx->family != targ_family)
        return 0;
    if (!sent && (ctx->flags & CT_MSG_PEEK))
        return 0;
    if (!ct_current_selected())
        return 0;
    ct_tuple_of_sock((const struct sock*)ctx->sk, &tuple);
    key.pid = bpf_get_current_pid_tgid() >> 32;
    key.family = tuple.family;
    key.lport = tuple.sport;
    key.dport = tuple.dport;
    __builtin_memcpy(key.saddr, tuple.saddr, sizeof(key.saddr));
    __builtin_memcpy(key.daddr, tuple.daddr, sizeof(key.daddr));
    bpf_get_current_comm(key.comm, sizeof(key.comm));

    value = bpf_map_lookup_elem(&traffic, &key);
    if (!value) {
        if (bpf_map_update_elem(&traffic, &key, &zero, BPF_NOEXIST) &&
            !bpf_map_lookup_elem(&traffic, &key)) {
            __sync_fetch_and_add(&dropped, 1);
            return 0;
        }
        value = bpf_map_lookup_elem(&traffic, &key);
        if (!value)
            return 0;
    }
    if (sent)
        __sync_fetch_and_add(&value->sent, (__u64)ctx->ret);
    else
        __sync_fetch_and_add(&value->received, (__u64)ctx->ret);
    return 0;
}

SEC("tp/sock/sock_send_length")
int tcptop_send(struct trace_event_raw_sock_msg_length* ctx) {
    return count(ctx, true);
}

SEC("tp/sock/sock_recv_length")
int tcptop_recv(struct trace_event_raw_sock_msg_length* ctx) {
    return count(ctx, false);
}
