/* tcptracer: TCP connections as they are established (connect), accepted and closed.
 *
 * Two hook paths, chosen by user space (the first row of its hook table decides):
 *
 * Function hooks (where the kernel allows fentry/fexit), libbpf-tools' kprobes as fentry/fexit:
 *   'C': fexit on tcp_v4_connect/tcp_v6_connect remembers the connecting task under the socket
 *        when the function returned 0; fentry on tcp_set_state reports it when the socket goes
 *        from SYN_SENT to ESTABLISHED (usually in softirq context), and forgets it at CLOSE;
 *   'A': fexit on inet_csk_accept: the socket it returns, in the accepting task;
 *   'X': fentry on tcp_close for a connection seen established (tcp_set_state), or one not
 *        finished both ways (established before the tool started), in the closing task.
 *
 * Tracepoints (elsewhere):
 *   'C': sock:inet_sock_set_state SYN_SENT -> ESTABLISHED, reported for the task remembered at
 *        CLOSE -> SYN_SENT (inside connect(2));
 *   'A': the exits of accept(2)/accept4(2), in the accepting task, with the new socket's ports;
 *   'X': an established connection's first close-side change: ESTABLISHED -> FIN_WAIT1 or
 *        CLOSE_WAIT -> LAST_ACK (close(2) or shutdown(2)), or ESTABLISHED/CLOSE_WAIT -> CLOSE
 *        (an abort), reported for the socket's remembered owner, else the current task.
 * Filters (-p, -u) apply to the task reported. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/events.bpf.h>
#include <coretrace/files.bpf.h>
#define CT_SOCK_OWNERS
#include <coretrace/sock.bpf.h>
#include "tcptracer.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 targ_pid = 0;
const volatile bool filter_uid = false;
const volatile __u32 targ_uid = 0;

static __always_inline void emit(void* ctx, __u32 type, const struct ct_sock_owner* owner,
                                 const struct ct_sock_tuple* tuple) {
    struct tcptracer_event* event;

    if (targ_pid && owner->pid != targ_pid)
        return;
    if (filter_uid && owner->uid != targ_uid)
        return;
    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return;
    event->ts_ns = bpf_ktime_get_ns();
    event->type = type;
    event->pid = owner->pid;
    event->uid = owner->uid;
    event->family = tuple->family;
    event->sport = tuple->sport;
    event->dport = tuple->dport;
    event->pad[0] = event->pad[1] = event->pad[2] = 0;
    __builtin_memcpy(event->saddr, tuple->saddr, sizeof(event->saddr));
    __builtin_memcpy(event->daddr, tuple->daddr, sizeof(event->daddr));
    __builtin_memcpy(event->comm, owner->comm, sizeof(event->comm));
    ct_event_submit(ctx, event, sizeof(*event));
}

static __always_inline void current_task(struct ct_sock_owner* owner) {
    __u64 id = bpf_get_current_pid_tgid();

    owner->pid = id >> 32;
    owner->tid = (__u32)id;
    owner->uid = (__u32)bpf_get_current_uid_gid();
    owner->pad = 0;
    bpf_get_current_comm(owner->comm, sizeof(owner->comm));
}

/* ---- function-hook path ---------------------------------------------------------------- */

/* Sockets seen going ESTABLISHED (function path): tcp_close reports these whatever their state
 * by then (a connection shut down both ways is in CLOSE, like a refused connect). LRU: a socket
 * destroyed without tcp_close (a connection never accepted) is evicted in time. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, __u8);
} established SEC(".maps");

static __always_inline int on_connect_return(struct sock* sk, int ret, __u16 family) {
    /* An IPv6 socket in tcp_v4_connect: an IPv4-mapped destination, remembered by the IPv6
     * exit, which follows. */
    if (ret != 0 || BPF_CORE_READ(sk, __sk_common.skc_family) != family)
        return 0;
    ct_owner_remember((__u64)(unsigned long)sk, BPF_ANY);
    return 0;
}

SEC("fexit/tcp_v4_connect")
int BPF_PROG(tcptracer_v4_connect, struct sock* sk, struct sockaddr* uaddr, int addr_len, int ret) {
    return on_connect_return(sk, ret, CT_AF_INET);
}

SEC("fexit/tcp_v6_connect")
int BPF_PROG(tcptracer_v6_connect, struct sock* sk, struct sockaddr* uaddr, int addr_len, int ret) {
    return on_connect_return(sk, ret, CT_AF_INET6);
}

SEC("fentry/tcp_set_state")
int BPF_PROG(tcptracer_set_state, struct sock* sk, int state) {
    __u64 key = (__u64)(unsigned long)sk;
    struct ct_sock_owner owner, *known;
    struct ct_sock_tuple tuple;
    __u8 yes = 1;

    if (state == CT_TCP_CLOSE) {
        ct_owner_forget(key);
        return 0;
    }
    if (state != CT_TCP_ESTABLISHED)
        return 0;
    bpf_map_update_elem(&established, &key, &yes, BPF_ANY);
    if (BPF_CORE_READ(sk, __sk_common.skc_state) != CT_TCP_SYN_SENT)
        return 0;
    known = ct_owner_lookup(key);
    if (!known)
        return 0;
    owner = *known;
    ct_tuple_of_sock(sk, &tuple);
    emit(ctx, TCPTRACER_CONNECT, &owner, &tuple);
    return 0;
}

/* inet_csk_accept's arguments changed in 6.10; only its return value is used. */
SEC("fexit/inet_csk_accept")
int tcptracer_accept(unsigned long long* ctx) {
    struct ct_sock_owner owner;
    struct ct_sock_tuple tuple;
    __u64 ret = 0;
    struct sock* sk;

    bpf_get_func_ret(ctx, &ret);
    sk = (struct sock*)(unsigned long)ret;
    if (!sk || ct_sock_protocol(sk) != CT_IPPROTO_TCP)
        return 0;
    current_task(&owner);
    ct_tuple_of_sock(sk, &tuple);
    emit(ctx, TCPTRACER_ACCEPT, &owner, &tuple);
    return 0;
}

SEC("fentry/tcp_close")
int BPF_PROG(tcptracer_close, struct sock* sk) {
    __u64 key = (__u64)(unsigned long)sk;
    int state = BPF_CORE_READ(sk, __sk_common.skc_state);
    bool seen = bpf_map_delete_elem(&established, &key) == 0;
    struct ct_sock_owner owner;
    struct ct_sock_tuple tuple;

    /* A connection seen established, or one established before the tool started and not
     * finished both ways (ESTABLISHED, or half closed). Not a socket listening, connecting,
     * never connected or refused. */
    if (!seen && state != CT_TCP_ESTABLISHED && state != CT_TCP_CLOSE_WAIT &&
        state != CT_TCP_FIN_WAIT1 && state != CT_TCP_FIN_WAIT2 && state != CT_TCP_CLOSING &&
        state != CT_TCP_LAST_ACK)
        return 0;
    current_task(&owner);
    ct_tuple_of_sock(sk, &tuple);
    /* In CLOSE the local port was released (skc_num is 0); inet_sport still has it. */
    if (!tuple.sport)
        tuple.sport = bpf_ntohs(BPF_CORE_READ((struct inet_sock*)sk, inet_sport));
    emit(ctx, TCPTRACER_CLOSE, &owner, &tuple);
    return 0;
}

/* ---- tracepoint path ------------------------------------------------------------------- */

SEC("tp/sock/inet_sock_set_state")
int tcptracer_state(struct trace_event_raw_inet_sock_set_state* ctx) {
    __u64 sk = (__u64)(unsigned long)ctx->skaddr;
    int oldstate = ctx->oldstate, newstate = ctx->newstate;
    struct ct_sock_owner owner = {}, *known;
    struct ct_sock_tuple tuple;
    __u32 type = 0;

    if (ctx->protocol != CT_IPPROTO_TCP)
        return 0;
    ct_owner_on_state(sk, oldstate, newstate);
    if (oldstate == CT_TCP_SYN_SENT && newstate == CT_TCP_ESTABLISHED)
        type = TCPTRACER_CONNECT;
    else if ((oldstate == CT_TCP_ESTABLISHED &&
              (newstate == CT_TCP_FIN_WAIT1 || newstate == CT_TCP_CLOSE)) ||
             (oldstate == CT_TCP_CLOSE_WAIT &&
              (newstate == CT_TCP_LAST_ACK || newstate == CT_TCP_CLOSE)))
        type = TCPTRACER_CLOSE;
    if (type) {
        known = ct_owner_lookup(sk);
        if (known)
            owner = *known;
        else if (type == TCPTRACER_CLOSE)
            current_task(&owner);
        if (owner.pid) {
            ct_tuple_of_state(ctx, &tuple);
            emit(ctx, type, &owner, &tuple);
        }
    }
    if (newstate == CT_TCP_CLOSE)
        ct_owner_forget(sk);
    return 0;
}

static __always_inline int on_accept(void* ctx, long ret) {
    struct ct_sock_owner owner;
    struct ct_sock_tuple tuple;
    struct sock* sk = ct_owner_on_accept(ret);

    if (!sk)
        return 0;
    current_task(&owner);
    ct_tuple_of_sock(sk, &tuple);
    emit(ctx, TCPTRACER_ACCEPT, &owner, &tuple);
    return 0;
}

SEC("tp/syscalls/sys_exit_accept4")
int tcptracer_accept4_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_accept(ctx, ctx->ret);
}

SEC("tp/syscalls/sys_exit_accept")
int tcptracer_accept_exit(struct trace_event_raw_sys_exit* ctx) {
    return on_accept(ctx, ctx->ret);
}
