/* tcptop: bytes sent and received per TCP connection and process, summed in a map that user
 * space reads and clears every interval.
 *
 * Two ways to see the bytes, chosen per direction by user space (hooks::prefer):
 *   - where fentry/fexit or kprobes work, libbpf-tools' functions: tcp_sendmsg (fexit: its
 *     return, the bytes it really queued; kprobe: the size asked for) and tcp_cleanup_rbuf's
 *     `copied` (bytes a read took off the receive queue, MSG_PEEK reads included). These also
 *     see what reaches TCP without sock_sendmsg/sock_recvmsg: splice(2) from a socket
 *     (tcp_read_sock) and zero-copy receive.
 *   - otherwise sock:sock_send_length and sock:sock_recv_length (6.3+), which fire at the end of
 *     sock_sendmsg/sock_recvmsg in the calling task with the bytes moved (MSG_PEEK left out).
 *     They see send(2)/write(2)/recv(2)/read(2) and their vector forms on sockets; they do not
 *     see data that skips sock_sendmsg/sock_recvmsg (sendfile(2)/splice(2) before 6.5, splice(2)
 *     from a socket) nor zero-copy receive.
 * Every hook runs in the task moving the bytes, so the filters and the comm are the same. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
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

/* Adds `bytes` moved on `sk` by the current task to its connection's row. */
static __always_inline int count(const struct sock* sk, __u16 family, long bytes, bool sent) {
    struct tcptop_traffic* value;
    struct tcptop_traffic zero = {};
    struct ct_sock_tuple tuple;
    struct tcptop_key key = {};

    if (bytes <= 0)
        return 0;
    if (family != CT_AF_INET && family != CT_AF_INET6)
        return 0;
    if (targ_family && family != targ_family)
        return 0;
    if (!ct_current_selected())
        return 0;
    ct_tuple_of_sock(sk, &tuple);
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
        __sync_fetch_and_add(&value->sent, (__u64)bytes);
    else
        __sync_fetch_and_add(&value->received, (__u64)bytes);
    return 0;
}

/* The functions are TCP's own (tcp_prot and tcpv6_prot): only the family needs checking. */
static __always_inline int count_tcp(const struct sock* sk, long bytes, bool sent) {
    return count(sk, BPF_CORE_READ(sk, __sk_common.skc_family), bytes, sent);
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(tcptop_sendmsg_exit, struct sock* sk, struct msghdr* msg, size_t size, int ret) {
    return count_tcp(sk, ret, true);
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(tcptop_sendmsg_kprobe, struct sock* sk, struct msghdr* msg, size_t size) {
    return count_tcp(sk, (long)size, true);
}

SEC("fentry/tcp_cleanup_rbuf")
int BPF_PROG(tcptop_cleanup_rbuf, struct sock* sk, int copied) {
    return count_tcp(sk, copied, false);
}

SEC("kprobe/tcp_cleanup_rbuf")
int BPF_KPROBE(tcptop_cleanup_rbuf_kprobe, struct sock* sk, int copied) {
    return count_tcp(sk, copied, false);
}

static __always_inline int count_length(struct trace_event_raw_sock_msg_length* ctx, bool sent) {
    if (ctx->protocol != CT_IPPROTO_TCP)
        return 0;
    if (!sent && (ctx->flags & CT_MSG_PEEK))
        return 0;
    return count((const struct sock*)ctx->sk, ctx->family, ctx->ret, sent);
}

SEC("tp/sock/sock_send_length")
int tcptop_send(struct trace_event_raw_sock_msg_length* ctx) {
    return count_length(ctx, true);
}

SEC("tp/sock/sock_recv_length")
int tcptop_recv(struct trace_event_raw_sock_msg_length* ctx) {
    return count_length(ctx, false);
}
