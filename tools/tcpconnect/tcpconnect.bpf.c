/* tcpconnect: one record per active TCP open (connect(2) on a TCP socket), IPv4 and IPv6.
 *
 * Two hook paths, chosen by user space (the first row of its hook table decides):
 *
 * Function hooks (where the kernel allows fentry/fexit), as libbpf-tools does with kprobes:
 * fexit/tcp_v4_connect and fexit/tcp_v6_connect see the socket and the return value in one
 * program; a connect that returned 0 (the SYN is on its way, the local port chosen) is reported
 * for the current task, which is the connecting one, with the ports and addresses of the socket.
 * An IPv6 socket connecting to an IPv4-mapped address goes through both functions; only
 * tcp_v6_connect's exit reports it.
 *
 * Tracepoints (elsewhere): the connect is seen on sock:inet_sock_set_state. The CLOSE ->
 * SYN_SENT transition runs in the connecting task, inside connect(2), once the destination is
 * set but before the local port is chosen: it applies the filters and remembers the task under
 * the socket's address. The record is sent, with the local port now known, by whichever comes
 * first:
 *   - syscalls:sys_exit_connect in the same thread (the usual case: connect(2) returns at once
 *     for a non-blocking socket, or after the handshake), reading the ports from the socket;
 *   - the socket leaving SYN_SENT (ESTABLISHED, or CLOSE when refused or timed out), for a
 *     connect not made through connect(2) (io_uring, the kernel itself), with the tracepoint's
 *     ports and addresses.
 * Each path claims the remembered task by deleting it, so a connection is reported once. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/events.bpf.h>
#include <coretrace/sock.bpf.h>
#include "tcpconnect.h"

char LICENSE[] SEC("license") = "GPL";

/* -P: only these destination ports (targ_ports_len of them; 0: any). */
const volatile __u16 targ_ports[CT_MAX_PORTS] = {};
const volatile __u32 targ_ports_len = 0;

struct owner {
    __u64 ts_ns;
    __u32 pid;
    __u32 tid;
    __u32 uid;
    char comm[TCPCONNECT_COMM_LEN];
};

/* Socket address -> the task connecting it, from SYN_SENT until reported. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u64);
    __type(value, struct owner);
} connecting SEC(".maps");

/* Thread -> the socket it is connecting, from SYN_SENT to its connect(2)'s return. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, __u64);
} thread_sock SEC(".maps");

/* Connects that could not be followed because a map was full: counted as lost. */
__u64 dropped = 0;

static __always_inline void report(void* ctx, const struct owner* owner,
                                   const struct ct_sock_tuple* tuple) {
    struct tcpconnect_event* event = ct_event_reserve(sizeof(*event));

    if (!event)
        return;
    event->ts_ns = owner->ts_ns;
    event->pid = owner->pid;
    event->tid = owner->tid;
    event->uid = owner->uid;
    event->family = tuple->family;
    event->sport = tuple->sport;
    event->dport = tuple->dport;
    event->pad = 0;
    __builtin_memcpy(event->saddr, tuple->saddr, sizeof(event->saddr));
    __builtin_memcpy(event->daddr, tuple->daddr, sizeof(event->daddr));
    __builtin_memcpy(event->comm, owner->comm, sizeof(event->comm));
    ct_event_submit(ctx, event, sizeof(*event));
}

/* Takes the socket's remembered owner into `out`; false when there is none or another path
 * took it first. */
static __always_inline bool claim(__u64 sk, struct owner* out) {
    struct owner* owner = bpf_map_lookup_elem(&connecting, &sk);

    if (!owner)
        return false;
    *out = *owner;
    return bpf_map_delete_elem(&connecting, &sk) == 0;
}

/* The current task, the one connecting. */
static __always_inline void current_owner(struct owner* owner) {
    __u64 id = bpf_get_current_pid_tgid();

    owner->ts_ns = bpf_ktime_get_ns();
    owner->pid = id >> 32;
    owner->tid = (__u32)id;
    owner->uid = (__u32)bpf_get_current_uid_gid();
    bpf_get_current_comm(owner->comm, sizeof(owner->comm));
}

/* Function-hook path: tcp_v4_connect/tcp_v6_connect returned `ret` for `sk`, of `family`. */
static __always_inline int on_connect_return(void* ctx, struct sock* sk, int ret, __u16 family) {
    struct ct_sock_tuple tuple;
    struct owner owner = {};

    if (ret != 0 || !ct_current_selected())
        return 0;
    ct_tuple_of_sock(sk, &tuple);
    /* An IPv6 socket in tcp_v4_connect: an IPv4-mapped destination, reported by the IPv6
     * exit, which follows. */
    if (tuple.family != family || !ct_port_in(tuple.dport, targ_ports, targ_ports_len))
        return 0;
    current_owner(&owner);
    report(ctx, &owner, &tuple);
    return 0;
}

SEC("fexit/tcp_v4_connect")
int BPF_PROG(tcpconnect_v4_exit, struct sock* sk, struct sockaddr* uaddr, int addr_len, int ret) {
    return on_connect_return(ctx, sk, ret, CT_AF_INET);
}

SEC("fexit/tcp_v6_connect")
int BPF_PROG(tcpconnect_v6_exit, struct sock* sk, struct sockaddr* uaddr, int addr_len, int ret) {
    return on_connect_return(ctx, sk, ret, CT_AF_INET6);
}

SEC("tp/sock/inet_sock_set_state")
int tcpconnect_state(struct trace_event_raw_inet_sock_set_state* ctx) {
    __u64 sk = (__u64)(unsigned long)ctx->skaddr;
    struct ct_sock_tuple tuple;
    struct owner owner = {};

    if (ctx->protocol != CT_IPPROTO_TCP)
        return 0;
    if (ctx->oldstate == CT_TCP_CLOSE && ctx->newstate == CT_TCP_SYN_SENT) {
        __u32 tid;

        if (!ct_current_selected() || !ct_port_in(ctx->dport, targ_ports, targ_ports_len))
            return 0;
        current_owner(&owner);
        tid = owner.tid;
        if (bpf_map_update_elem(&connecting, &sk, &owner, BPF_ANY)) {
            __sync_fetch_and_add(&dropped, 1);
            return 0;
        }
        bpf_map_update_elem(&thread_sock, &tid, &sk, BPF_ANY);
        return 0;
    }
    if (ctx->oldstate != CT_TCP_SYN_SENT || !claim(sk, &owner))
        return 0;
    ct_tuple_of_state(ctx, &tuple);
    report(ctx, &owner, &tuple);
    return 0;
}

SEC("tp/syscalls/sys_exit_connect")
int tcpconnect_exit(struct trace_event_raw_sys_exit* ctx) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct ct_sock_tuple tuple;
    struct owner owner;
    __u64* stored;
    __u64 sk;

    stored = bpf_map_lookup_elem(&thread_sock, &tid);
    if (!stored)
        return 0;
    sk = *stored;
    bpf_map_delete_elem(&thread_sock, &tid);
    ct_tuple_of_sock((const struct sock*)(unsigned long)sk, &tuple);
    /* No local port: the connect failed before choosing one; the state change back to CLOSE
     * (with the tracepoint's view) reports it, if it happened. */
    if (!tuple.sport || !claim(sk, &owner))
        return 0;
    report(ctx, &owner, &tuple);
    return 0;
}
