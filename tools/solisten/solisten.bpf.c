/* solisten: one record per listen(2) on an IPv4 or IPv6 socket, with its result.
 *
 * Where fexit works, libbpf-tools' hook: inet_listen's return, which has the socket, the backlog
 * (after listen(2) capped it at net.core.somaxconn) and the result in one program. It sees the
 * listens of IPv4/IPv6 stream sockets (TCP) however they are made, from user space or inside the
 * kernel; a listen(2) on another type (UDP: EOPNOTSUPP) never reaches inet_listen.
 *
 * Elsewhere listen(2)'s entry and exit tracepoints. The entry applies the filters and finds the
 * socket behind the descriptor; the exit reads its local port and address (chosen by the kernel
 * if it was not bound) and sends the record, with the backlog as passed. These see every
 * listen(2) on an IPv4/IPv6 socket, UDP included, but not a listen made inside the kernel or
 * through io_uring. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/events.bpf.h>
#include <coretrace/files.bpf.h>
#include <coretrace/sock.bpf.h>
#include "solisten.h"

char LICENSE[] SEC("license") = "GPL";

struct listen_args {
    __u64 sk;
    __s32 backlog;
    __u32 pad;
};

/* Thread -> the listen(2) it is in. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct listen_args);
} start SEC(".maps");

__u64 dropped = 0;

/* Sends the record of a listen on `sk` that returned `ret`. */
static __always_inline void send_record(void* ctx, struct sock* sk, __s32 backlog, __s32 ret) {
    __u64 id = bpf_get_current_pid_tgid();
    struct solisten_event* event;
    struct ct_sock_tuple tuple;

    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return;
    ct_tuple_of_sock(sk, &tuple);
    event->ts_ns = bpf_ktime_get_ns();
    event->pid = id >> 32;
    event->tid = (__u32)id;
    event->uid = (__u32)bpf_get_current_uid_gid();
    event->ret = ret;
    event->backlog = backlog;
    event->family = tuple.family;
    event->type = BPF_CORE_READ(sk, sk_type);
    event->port = tuple.sport;
    event->pad = 0;
    __builtin_memcpy(event->addr, tuple.saddr, sizeof(event->addr));
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    ct_event_submit(ctx, event, sizeof(*event));
}

static __always_inline bool inet_family(const struct sock* sk) {
    __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    return family == CT_AF_INET || family == CT_AF_INET6;
}

SEC("fexit/inet_listen")
int BPF_PROG(solisten_inet_listen, struct socket* sock, int backlog, int ret) {
    struct sock* sk;

    if (!ct_current_selected())
        return 0;
    sk = BPF_CORE_READ(sock, sk);
    if (!sk || !inet_family(sk))
        return 0;
    send_record(ctx, sk, backlog, ret);
    return 0;
}

SEC("tp/syscalls/sys_enter_listen")
int solisten_enter(struct trace_event_raw_sys_enter* ctx) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct listen_args args = {};
    struct sock* sk;

    if (!ct_current_selected())
        return 0;
    sk = ct_current_sock((int)ctx->args[0]);
    if (!sk || !inet_family(sk))
        return 0;
    args.sk = (__u64)(unsigned long)sk;
    args.backlog = (__s32)ctx->args[1];
    if (bpf_map_update_elem(&start, &tid, &args, BPF_ANY))
        __sync_fetch_and_add(&dropped, 1);
    return 0;
}

SEC("tp/syscalls/sys_exit_listen")
int solisten_exit(struct trace_event_raw_sys_exit* ctx) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct listen_args* stored;
    struct listen_args args;

    stored = bpf_map_lookup_elem(&start, &tid);
    if (!stored)
        return 0;
    args = *stored;
    bpf_map_delete_elem(&start, &tid);
    send_record(ctx, (struct sock*)(unsigned long)args.sk, args.backlog, (__s32)ctx->ret);
    return 0;
}
