/* Hook choice on the running kernel, end to end: each event has the hooks a tool would list
 * (fentry, kprobe, then a tracepoint), hook_check keeps the first that the library's probes
 * accept, and every program counts the calls of one thread so the count can be checked exactly.
 * Only one program per event loads; they share that event's counter. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tid = 0;

__u64 getpid_calls = 0;
__u64 openat_calls = 0;
__u64 getppid_calls = 0;

static __always_inline int is_target(void) {
    return (__u32)bpf_get_current_pid_tgid() == target_tid;
}

/* getpid(2): __x64_sys_getpid is a symbol on both kernels but a BTF function on neither, so
 * fentry is passed over (ESRCH); a kprobe takes it where kprobes exist. */
SEC("fentry/__x64_sys_getpid")
int getpid_fentry(void* ctx) {
    if (is_target())
        __sync_fetch_and_add(&getpid_calls, 1);
    return 0;
}
SEC("kprobe/__x64_sys_getpid")
int getpid_kprobe(void* ctx) {
    if (is_target())
        __sync_fetch_and_add(&getpid_calls, 1);
    return 0;
}
SEC("tp/syscalls/sys_enter_getpid")
int getpid_tp(void* ctx) {
    if (is_target())
        __sync_fetch_and_add(&getpid_calls, 1);
    return 0;
}

/* openat(2): do_sys_openat2 is a BTF function on both kernels; fentry where the kernel allows
 * it, else a kprobe, else the system call's tracepoint. */
SEC("fentry/do_sys_openat2")
int openat_fentry(void* ctx) {
    if (is_target())
        __sync_fetch_and_add(&openat_calls, 1);
    return 0;
}
SEC("kprobe/do_sys_openat2")
int openat_kprobe(void* ctx) {
    if (is_target())
        __sync_fetch_and_add(&openat_calls, 1);
    return 0;
}
SEC("tp/syscalls/sys_enter_openat")
int openat_tp(void* ctx) {
    if (is_target())
        __sync_fetch_and_add(&openat_calls, 1);
    return 0;
}

/* getppid(2): a kprobe on a function no kernel has must be passed over (ENOENT), not chosen
 * and then fail at attach. */
SEC("kprobe/coretrace_no_such_function")
int getppid_kprobe(void* ctx) {
    if (is_target())
        __sync_fetch_and_add(&getppid_calls, 1);
    return 0;
}
SEC("tp/syscalls/sys_enter_getppid")
int getppid_tp(void* ctx) {
    if (is_target())
        __sync_fetch_and_add(&getppid_calls, 1);
    return 0;
}
