/* bindsnoop: one record per bind(2) on an IPv4 or IPv6 socket, with its result.
 *
 * Two hook paths, chosen by user space (the first row of its hook table decides):
 *
 * Function hooks (where the kernel allows fentry/fexit): fexit on inet_bind and inet6_bind, the
 * functions libbpf-tools probes with kprobes, sees the socket, the address (already copied into
 * the kernel) and the return value in one program, in the binding task: filters, then the
 * record. Binds made by the kernel itself or through io_uring go through them too.
 *
 * Tracepoints (elsewhere): bind(2)'s entry and exit. The entry applies the caller filters (-p,
 * -c) and finds the socket behind the descriptor; the exit reads the address passed (from the
 * caller's memory, still mapped) and the socket's options, applies -P and -x, and sends the
 * record. Binds made inside the kernel, or through io_uring, are not seen. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/filter.bpf.h>
#include <coretrace/events.bpf.h>
#include <coretrace/files.bpf.h>
#include <coretrace/sock.bpf.h>
#include "bindsnoop.h"

char LICENSE[] SEC("license") = "GPL";

/* -x: include failed binds (libbpf-tools shows successful ones only by default). */
const volatile bool targ_errors = false;
/* -P: only these ports. */
const volatile __u16 targ_ports[CT_MAX_PORTS] = {};
const volatile __u32 targ_ports_len = 0;

struct bind_args {
    __u64 sk;
    __u64 uaddr; /* user-space struct sockaddr* */
    __u32 addrlen;
};

/* Thread -> the bind(2) it is in. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, struct bind_args);
} start SEC(".maps");

__u64 dropped = 0;

/* inet_sock before 6.6, where these options were bitfields rather than bits of inet_flags. */
struct inet_sock___bitfields {
    __u8 freebind : 1;
    __u8 transparent : 1;
    __u8 bind_address_no_port : 1;
} __attribute__((preserve_access_index));

static __always_inline __u8 socket_options(struct sock* sk) {
    struct inet_sock* inet = (struct inet_sock*)sk;
    struct inet_sock___bitfields* old = (struct inet_sock___bitfields*)sk;
    __u8 opts = 0;

    if (bpf_core_field_exists(inet->inet_flags)) {
        unsigned long flags = BPF_CORE_READ(inet, inet_flags);

        if (flags & (1UL << INET_FLAGS_FREEBIND))
            opts |= BINDSNOOP_OPT_FREEBIND;
        if (flags & (1UL << INET_FLAGS_TRANSPARENT))
            opts |= BINDSNOOP_OPT_TRANSPARENT;
        if (flags & (1UL << INET_FLAGS_BIND_ADDRESS_NO_PORT))
            opts |= BINDSNOOP_OPT_BIND_ADDRESS_NO_PORT;
    } else if (bpf_core_field_exists(old->freebind)) {
        if (BPF_CORE_READ_BITFIELD_PROBED(old, freebind))
            opts |= BINDSNOOP_OPT_FREEBIND;
        if (BPF_CORE_READ_BITFIELD_PROBED(old, transparent))
            opts |= BINDSNOOP_OPT_TRANSPARENT;
        if (BPF_CORE_READ_BITFIELD_PROBED(old, bind_address_no_port))
            opts |= BINDSNOOP_OPT_BIND_ADDRESS_NO_PORT;
    }
    if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuse))
        opts |= BINDSNOOP_OPT_REUSEADDR;
    if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuseport))
        opts |= BINDSNOOP_OPT_REUSEPORT;
    return opts;
}

/* The record of a bind of `sk` to the address in `in6` (a sockaddr_in or sockaddr_in6, zeroed
 * when unreadable) that returned `ret`, made by the current task: -P and -x applied here. */
static __always_inline void report(void* ctx, struct sock* sk, const struct sockaddr_in6* in6,
                                   int ret) {
    struct bindsnoop_event* event;
    __u64 id = bpf_get_current_pid_tgid();

    if (ret != 0 && !targ_errors)
        return;
    if (!ct_port_in(bpf_ntohs(in6->sin6_port), targ_ports, targ_ports_len))
        return;
    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return;
    event->ts_ns = bpf_ktime_get_ns();
    event->pid = id >> 32;
    event->tid = (__u32)id;
    event->uid = (__u32)bpf_get_current_uid_gid();
    event->ret = ret;
    event->bound_dev_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
    event->protocol = ct_sock_protocol(sk);
    event->family = in6->sin6_family;
    event->port = bpf_ntohs(in6->sin6_port);
    event->opts = socket_options(sk);
    event->pad = 0;
    __builtin_memset(event->addr, 0, sizeof(event->addr));
    if (in6->sin6_family == CT_AF_INET)
        __builtin_memcpy(event->addr, &((const struct sockaddr_in*)in6)->sin_addr, 4);
    else
        __builtin_memcpy(event->addr, &in6->sin6_addr, 16);
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    ct_event_submit(ctx, event, sizeof(*event));
}

/* ---- function-hook path ---------------------------------------------------------------- */

static __always_inline int on_bind_return(void* ctx, struct socket* sock,
                                          const struct sockaddr* uaddr, int addr_len, int ret) {
    struct sockaddr_in6 in6 = {};

    if (!ct_current_selected())
        return 0;
    /* As on the tracepoint path: a sockaddr_in first, then the whole sockaddr_in6. */
    if (bpf_probe_read_kernel(&in6, sizeof(struct sockaddr_in), uaddr))
        __builtin_memset(&in6, 0, sizeof(in6));
    else if (in6.sin6_family == CT_AF_INET6 && addr_len >= (int)sizeof(in6) &&
             bpf_probe_read_kernel(&in6, sizeof(in6), uaddr))
        __builtin_memset(&in6, 0, sizeof(in6));
    report(ctx, BPF_CORE_READ(sock, sk), &in6, ret);
    return 0;
}

SEC("fexit/inet_bind")
int BPF_PROG(bindsnoop_inet_bind, struct socket* sock, struct sockaddr* uaddr, int addr_len,
             int ret) {
    return on_bind_return(ctx, sock, uaddr, addr_len, ret);
}

SEC("fexit/inet6_bind")
int BPF_PROG(bindsnoop_inet6_bind, struct socket* sock, struct sockaddr* uaddr, int addr_len,
             int ret) {
    return on_bind_return(ctx, sock, uaddr, addr_len, ret);
}

/* ---- tracepoint path ------------------------------------------------------------------- */

SEC("tp/syscalls/sys_enter_bind")
int bindsnoop_enter(struct trace_event_raw_sys_enter* ctx) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct bind_args args = {};
    struct sock* sk;
    __u16 family;

    if (!ct_current_selected())
        return 0;
    sk = ct_current_sock((int)ctx->args[0]);
    if (!sk)
        return 0;
    family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (family != CT_AF_INET && family != CT_AF_INET6)
        return 0;
    args.sk = (__u64)(unsigned long)sk;
    args.uaddr = ctx->args[1];
    args.addrlen = (__u32)ctx->args[2];
    if (bpf_map_update_elem(&start, &tid, &args, BPF_ANY))
        __sync_fetch_and_add(&dropped, 1);
    return 0;
}

SEC("tp/syscalls/sys_exit_bind")
int bindsnoop_exit(struct trace_event_raw_sys_exit* ctx) {
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct bind_args* stored;
    struct bind_args args;
    struct sockaddr_in6 in6 = {};

    stored = bpf_map_lookup_elem(&start, &tid);
    if (!stored)
        return 0;
    args = *stored;
    bpf_map_delete_elem(&start, &tid);
    if (ctx->ret != 0 && !targ_errors)
        return 0;
    /* A sockaddr_in (16 bytes) first; sin6_family and sin6_port are where sin_family and
     * sin_port are. Then the whole sockaddr_in6 when the caller passed one. */
    if (bpf_probe_read_user(&in6, sizeof(struct sockaddr_in), (const void*)args.uaddr))
        __builtin_memset(&in6, 0, sizeof(in6));
    else if (in6.sin6_family == CT_AF_INET6 && args.addrlen >= sizeof(in6) &&
             bpf_probe_read_user(&in6, sizeof(in6), (const void*)args.uaddr))
        __builtin_memset(&in6, 0, sizeof(in6));
    report(ctx, (struct sock*)(unsigned long)args.sk, &in6, (int)ctx->ret);
    return 0;
}
