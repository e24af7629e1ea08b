/* tcptracer: TCP connections as they are established (connect), accepted and closed.
 *
 * libbpf-tools uses kprobes on tcp_v4_connect/tcp_v6_connect, tcp_set_state, inet_csk_accept
 * and tcp_close; here:
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
