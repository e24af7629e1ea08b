/* What the TCP/IP tools share on the BPF side: a connection's family, ports and addresses, read
 * from a sock:inet_sock_set_state record or from a `struct sock` through CO-RE; port lists set
 * in .rodata (-P, -L, -D); and the state numbers the kernel uses (include/net/tcp_states.h).
 *
 * Ports are in host byte order everywhere in these structures; an IPv4 address fills the first
 * 4 bytes of a 16-byte array (the rest zero), as the user side's inet_address.hpp expects. */
#ifndef CORETRACE_SOCK_BPF_H
#define CORETRACE_SOCK_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define CT_AF_INET 2
#define CT_AF_INET6 10
#define CT_IPPROTO_TCP 6
#define CT_IPPROTO_UDP 17

/* enum from include/net/tcp_states.h (vmlinux.h has it too, under the TCP_ names). */
#define CT_TCP_ESTABLISHED 1
#define CT_TCP_SYN_SENT 2
#define CT_TCP_SYN_RECV 3
#define CT_TCP_FIN_WAIT1 4
#define CT_TCP_FIN_WAIT2 5
#define CT_TCP_TIME_WAIT 6
#define CT_TCP_CLOSE 7
#define CT_TCP_CLOSE_WAIT 8
#define CT_TCP_LAST_ACK 9
#define CT_TCP_LISTEN 10
#define CT_TCP_CLOSING 11
#define CT_TCP_NEW_SYN_RECV 12

/* Most ports a -P/-L/-D list holds (the user side refuses more). */
#define CT_MAX_PORTS 64

/* One end-to-end identity of a socket: local (s) and remote (d) sides. */
struct ct_sock_tuple {
    __u16 family; /* CT_AF_INET or CT_AF_INET6 */
    __u16 sport;  /* local port, host order (0 before the socket is bound) */
    __u16 dport;  /* remote port, host order */
    __u16 pad;
    __u8 saddr[16];
    __u8 daddr[16];
};

/* The tuple of a sock:inet_sock_set_state record (the tracepoint already converted the ports to
 * host order and filled both address forms). */
static __always_inline void ct_tuple_of_state(const struct trace_event_raw_inet_sock_set_state* ctx,
                                              struct ct_sock_tuple* t) {
    __builtin_memset(t, 0, sizeof(*t));
    t->family = ctx->family;
    t->sport = ctx->sport;
    t->dport = ctx->dport;
    /* The arrays are read with a helper: the verifier allows only loads at fixed offsets from the
     * context pointer, and a copy of an array may be compiled as loads through a moved pointer. */
    if (ctx->family == CT_AF_INET) {
        bpf_probe_read_kernel(t->saddr, 4, ctx->saddr);
        bpf_probe_read_kernel(t->daddr, 4, ctx->daddr);
    } else {
        bpf_probe_read_kernel(t->saddr, 16, ctx->saddr_v6);
        bpf_probe_read_kernel(t->daddr, 16, ctx->daddr_v6);
    }
}

/* The tuple of a socket, read now from its sock_common (skc_num is the local port in host order,
 * skc_dport the remote one in network order). */
static __always_inline void ct_tuple_of_sock(const struct sock* sk, struct ct_sock_tuple* t) {
    __builtin_memset(t, 0, sizeof(*t));
    t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
    t->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
    t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
    if (t->family == CT_AF_INET) {
        BPF_CORE_READ_INTO((__u32*)t->saddr, sk, __sk_common.skc_rcv_saddr);
        BPF_CORE_READ_INTO((__u32*)t->daddr, sk, __sk_common.skc_daddr);
    } else {
        BPF_CORE_READ_INTO((struct in6_addr*)t->saddr, sk, __sk_common.skc_v6_rcv_saddr);
        BPF_CORE_READ_INTO((struct in6_addr*)t->daddr, sk, __sk_common.skc_v6_daddr);
    }
}

/* The socket's protocol (IPPROTO_TCP, ...). */
static __always_inline __u16 ct_sock_protocol(const struct sock* sk) {
    return BPF_CORE_READ(sk, sk_protocol);
}

/* True when `port` is one of the first `len` entries of `ports` (or `len` is 0: no filter). */
static __always_inline bool ct_port_in(__u16 port, const volatile __u16* ports, __u32 len) {
    if (!len)
        return true;
    for (__u32 i = 0; i < CT_MAX_PORTS && i < len; i++)
        if (ports[i] == port)
            return true;
    return false;
}

/* The socket behind descriptor `fd` of the current task, or NULL when it is not a socket (needs
 * files.bpf.h's ct_current_file, included before this header by the tool). Sockets' files point
 * at their struct socket through private_data. */
#ifdef CORETRACE_FILES_BPF_H
static __always_inline struct sock* ct_current_sock(int fd) {
    struct file* file = ct_current_file(fd);
    struct socket* socket;

    if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & CT_S_IFMT) != CT_S_IFSOCK)
        return NULL;
    socket = BPF_CORE_READ(file, private_data);
    if (!socket)
        return NULL;
    return BPF_CORE_READ(socket, sk);
}

#endif

/* Owners of sockets (define CT_SOCK_OWNERS before including this header, after files.bpf.h).
 *
 * State changes often run in softirq context (a SYN-ACK or FIN arriving), where the current
 * task is whoever was interrupted, not the socket's owner. So the owner is remembered under the
 * socket's address when it is known for sure:
 *   - CLOSE -> SYN_SENT runs inside connect(2), in the connecting task;
 *   - accept(2)/accept4(2) returning a descriptor: the accepting task, for the passive side;
 *   - ESTABLISHED -> FIN_WAIT1 and CLOSE_WAIT -> LAST_ACK run inside close(2)/shutdown(2), in
 *     a task holding the socket (kept only when nothing was remembered before).
 * The tool calls ct_owner_on_state() from its inet_sock_set_state program, ct_owner_on_accept()
 * from the accept exits, and ct_owner_forget() at the socket's close. */
#ifdef CT_SOCK_OWNERS
#define CT_OWNER_COMM_LEN 16

struct ct_sock_owner {
    __u32 pid; /* tgid */
    __u32 tid;
    __u32 uid;
    __u32 pad;
    char comm[CT_OWNER_COMM_LEN];
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, struct ct_sock_owner);
} ct_sock_owners SEC(".maps");

static __always_inline void ct_owner_remember(__u64 sk, __u64 flags) {
    struct ct_sock_owner owner = {};
    __u64 id = bpf_get_current_pid_tgid();

    owner.pid = id >> 32;
    owner.tid = (__u32)id;
    owner.uid = (__u32)bpf_get_current_uid_gid();
    bpf_get_current_comm(owner.comm, sizeof(owner.comm));
    bpf_map_update_elem(&ct_sock_owners, &sk, &owner, flags);
}

static __always_inline void ct_owner_on_state(__u64 sk, int oldstate, int newstate) {
    if (oldstate == CT_TCP_CLOSE && newstate == CT_TCP_SYN_SENT)
        ct_owner_remember(sk, BPF_ANY);
    else if ((oldstate == CT_TCP_ESTABLISHED && newstate == CT_TCP_FIN_WAIT1) ||
             (oldstate == CT_TCP_CLOSE_WAIT && newstate == CT_TCP_LAST_ACK))
        ct_owner_remember(sk, BPF_NOEXIST);
}

/* The socket accept(2) returned as descriptor `ret` (if TCP) is the current task's; returns it
 * (or NULL). */
static __always_inline struct sock* ct_owner_on_accept(long ret) {
    struct sock* sk;

    if (ret < 0)
        return NULL;
    sk = ct_current_sock(ret);
    if (!sk || ct_sock_protocol(sk) != CT_IPPROTO_TCP)
        return NULL;
    ct_owner_remember((__u64)(unsigned long)sk, BPF_ANY);
    return sk;
}

/* The remembered owner, or NULL. */
static __always_inline struct ct_sock_owner* ct_owner_lookup(__u64 sk) {
    return bpf_map_lookup_elem(&ct_sock_owners, &sk);
}

static __always_inline void ct_owner_forget(__u64 sk) {
    bpf_map_delete_elem(&ct_sock_owners, &sk);
}
#endif

#endif
