/* syscount: counts system calls as they return, per system call number or, with -P, per
 * process, and with -L sums their latency (entry to exit).
 *
 * Hooks: raw_syscalls:sys_exit (and sys_enter for -L), as raw tracepoints where the kernel has
 * them, else as classic tracepoints. The raw tracepoint's exit hands over the registers and the
 * return value, not the call's number, which is read from the registers (orig_ax on x86-64,
 * syscallno on arm64). Every filter is applied here, before any map is touched. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <coretrace/filter.bpf.h>
#include "syscount.h"

char LICENSE[] SEC("license") = "GPL";

/* -P: count per process instead of per system call. */
const volatile bool count_by_process = false;
/* -L: sum the time from entry to exit. */
const volatile bool measure_latency = false;
/* -x: only calls that failed. */
const volatile bool filter_failed = false;
/* -e: only calls that failed with this errno (0: any). */
const volatile __s32 filter_errno = 0;
/* exit(2) and exit_group(2) never return: their entries would stay in `start` for good. Their
 * numbers, for the architecture, come from user space (-1: none). */
const volatile long nr_exit = -1;
const volatile long nr_exit_group = -1;

/* Thread ID -> bpf_ktime_get_ns() at entry (-L only). Sized by user space. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 10240);
    __type(key, __u32);
    __type(value, __u64);
    __uint(map_flags, BPF_F_NO_PREALLOC);
} start SEC(".maps");

/* System call number (or PID with -P) -> counts. Sized by user space. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, SYSCOUNT_SYSCALL_KEYS);
    __type(key, __u32);
    __type(value, struct syscount_value);
    __uint(map_flags, BPF_F_NO_PREALLOC);
} counts SEC(".maps");

/* Calls that could not be counted: `counts` or `start` was full. */
__u64 dropped = 0;

static __always_inline void on_enter(long nr) {
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    __u64 ts;

    if (nr == nr_exit || nr == nr_exit_group)
        return;
    if (!ct_pid_selected(id >> 32, tid) || !ct_current_uid_selected() ||
        !ct_current_cgroup_selected())
        return;
    ts = bpf_ktime_get_ns();
    if (bpf_map_update_elem(&start, &tid, &ts, BPF_ANY))
        __sync_fetch_and_add(&dropped, 1);
}

static __always_inline void on_exit(long nr, long ret) {
    static const struct syscount_value zero;
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    struct syscount_value* value;
    __u64 latency = 0;
    __u32 key;

    /* -1: the exit of something that was not a system call (a signal return, ...). */
    if (nr < 0)
        return;
    if (!ct_pid_selected(id >> 32, tid) || !ct_current_uid_selected() ||
        !ct_current_cgroup_selected())
        return;
    if (measure_latency) {
        __u64* ts = bpf_map_lookup_elem(&start, &tid);

        /* No entry time: the call began before syscount attached. */
        if (!ts)
            return;
        latency = bpf_ktime_get_ns() - *ts;
        bpf_map_delete_elem(&start, &tid);
    }
    if (filter_failed && ret >= 0)
        return;
    if (filter_errno && ret != -filter_errno)
        return;

    key = count_by_process ? (__u32)(id >> 32) : (__u32)nr;
    value = bpf_map_lookup_elem(&counts, &key);
    if (!value) {
        /* Another CPU may add the key first: then this update fails and the lookup finds it. */
        bpf_map_update_elem(&counts, &key, &zero, BPF_NOEXIST);
        value = bpf_map_lookup_elem(&counts, &key);
        if (!value) {
            __sync_fetch_and_add(&dropped, 1);
            return;
        }
    }
    __sync_fetch_and_add(&value->count, 1);
    if (measure_latency)
        __sync_fetch_and_add(&value->total_ns, latency);
    if (count_by_process) {
        struct task_struct* task = (struct task_struct*)bpf_get_current_task();

        /* Every time: exec(2) changes the name. */
        BPF_CORE_READ_STR_INTO(&value->comm, task, group_leader, comm);
    }
}

/* The number of the system call that is returning, from the registers saved at entry. */
static __always_inline long syscall_nr(struct pt_regs* regs) {
#if defined(__TARGET_ARCH_x86)
    return BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
    return BPF_CORE_READ(regs, syscallno);
#else
#error "syscount: the system call number's register is not known for this architecture"
#endif
}

SEC("raw_tp/sys_enter")
int syscount_enter_raw(struct bpf_raw_tracepoint_args* ctx) {
    on_enter((long)ctx->args[1]);
    return 0;
}

SEC("tp/raw_syscalls/sys_enter")
int syscount_enter_tp(struct trace_event_raw_sys_enter* ctx) {
    on_enter(ctx->id);
    return 0;
}

SEC("raw_tp/sys_exit")
int syscount_exit_raw(struct bpf_raw_tracepoint_args* ctx) {
    on_exit(syscall_nr((struct pt_regs*)ctx->args[0]), (long)ctx->args[1]);
    return 0;
}

SEC("tp/raw_syscalls/sys_exit")
int syscount_exit_tp(struct trace_event_raw_sys_exit* ctx) {
    on_exit(ctx->id, ctx->ret);
    return 0;
}
