/* tcpstates: one record per TCP state change, with the time spent in the state left. As in
 * libbpf-tools, from sock:inet_sock_set_state; plus the accept(2)/accept4(2) exits, so that a
 * passive socket's owner is known (see the owner notes in sock.bpf.h). Changes that run in
 * softirq context before any owner is known (SYN_RECV -> ESTABLISHED of a passive socket, before
 * accept) report the task that was current, as libbpf-tools does, with owner_known = 0. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <coretrace/events.bpf.h>
#include <coretrace/files.bpf.h>
#define CT_SOCK_OWNERS
#include <coretrace/sock.bpf.h>
#include "tcpstates.h"

char LICENSE[] SEC("license") = "GPL";

/* -4 / -6: only this family (0: any). */
const volatile __u16 targ_family = 0;
/* -L / -D: only these local / remote ports. */
const volatile __u16 targ_sports[CT_MAX_PORTS] = {};
const volatile __u32 targ_sports_len = 0;
const volatile __u16 targ_dports[CT_MAX_PORTS] = {};
const volatile __u32 targ_dports_len = 0;

/* Socket address -> when it entered its current state. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u64);
    __type(value, __u64);
} timestamps SEC(".maps");

/* State changes whose start could not be remembered (`timestamps` full): their next record
 * has no duration. Counted as lost. */
__u64 dropped = 0;

SEC("tp/sock/inet_sock_set_state")
int tcpstates_state(struct trace_event_raw_inet_sock_set_state* ctx) {
    __u64 sk = (__u64)(unsigned long)ctx->skaddr;
    struct tcpstates_event* event;
    struct ct_sock_owner* owner;
    struct ct_sock_tuple tuple;
    __u64 now, *start;

    if (ctx->protocol != CT_IPPROTO_TCP)
        return 0;
    ct_owner_on_state(sk, ctx->oldstate, ctx->newstate);
    if ((targ_family && ctx->family != targ_family) ||
        !ct_port_in(ctx->sport, targ_sports, targ_sports_len) ||
        !ct_port_in(ctx->dport, targ_dports, targ_dports_len))
        goto done;

    now = bpf_ktime_get_ns();
    event = ct_event_reserve(sizeof(*event));
    if (!event)
        goto done;
    start = bpf_map_lookup_elem(&timestamps, &sk);
    event->skaddr = sk;
    event->ts_ns = now;
    event->delta_ns = start ? now - *start : 0;
    event->oldstate = ctx->oldstate;
    event->newstate = ctx->newstate;
    owner = ct_owner_lookup(sk);
    if (owner) {
        event->pid = owner->pid;
        event->owner_known = 1;
        __builtin_memcpy(event->comm, owner->comm, sizeof(event->comm));
    } else {
        event->pid = bpf_get_current_pid_tgid() >> 32;
        event->owner_known = 0;
        bpf_get_current_comm(event->comm, sizeof(event->comm));
    }
    ct_tuple_of_state(ctx, &tuple);
    event->family = tuple.family;
    event->sport = tuple.sport;
    event->dport = tuple.dport;
    event->pad = 0;
    __builtin_memcpy(event->saddr, tuple.saddr, sizeof(event->saddr));
    __builtin_memcpy(event->daddr, tuple.daddr, sizeof(event->daddr));
    ct_event_submit(ctx, event, sizeof(*event));

done:
    if (ctx->newstate == CT_TCP_CLOSE) {
        bpf_map_delete_elem(&timestamps, &sk);
        ct_owner_forget(sk);
    } else {
        now = bpf_ktime_get_ns();
        if (bpf_map_update_elem(&timestamps, &sk, &now, BPF_ANY))
            __sync_fetch_and_add(&dropped, 1);
    }
    return 0;
}

SEC("tp/syscalls/sys_exit_accept4")
int tcpstates_accept4_exit(struct trace_event_raw_sys_exit* ctx) {
    ct_owner_on_accept(ctx->ret);
    return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int tcpstates_accept_exit(struct trace_event_raw_sys_exit* ctx) {
    ct_owner_on_accept(ctx->ret);
    return 0;
}
