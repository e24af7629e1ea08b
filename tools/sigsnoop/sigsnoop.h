/* sigsnoop (and killsnoop, the same tool with -k): the record the BPF side sends per signal
 * generated, or per kill(2), tkill(2) or tgkill(2) call, and the limits both sides share. */
#ifndef CORETRACE_SIGSNOOP_H
#define CORETRACE_SIGSNOOP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SIGSNOOP_COMM_LEN 16
/* Signals 1..64 can be selected with -s (bit sig - 1 of targ_signals). */
#define SIGSNOOP_MAX_SIGNAL 64

/* Where a record comes from. */
enum sigsnoop_source {
    SIGSNOOP_GENERATE = 0, /* signal:signal_generate */
    SIGSNOOP_KILL = 1,     /* kill(2) */
    SIGSNOOP_TKILL = 2,    /* tkill(2) */
    SIGSNOOP_TGKILL = 3,   /* tgkill(2) */
};

/* signal_generate's delivery result (include/trace/events/signal.h), or this value when no
 * signal was generated during a kill(2)-family call (signal 0, or the call failed). */
#define SIGSNOOP_NOT_GENERATED (-1)

struct sigsnoop_event {
    __u64 ts_ns; /* bpf_ktime_get_ns(): at signal_generate, or at the syscall's return */
    __u32 pid;   /* sender's tgid */
    __u32 tid;   /* sender's thread */
    __s32 tpid;  /* target: the pid argument of the call, or the task the signal is for */
    __s32 sig;
    /* libbpf-tools' RESULT: the syscall's return value (0 or -errno) on the -k path; the
     * siginfo's si_errno for signal_generate (almost always 0). */
    __s32 ret;
    __s32 code;   /* si_code (SI_USER 0, SI_KERNEL 0x80, SI_TKILL -6, ...); 0 when not generated */
    __s32 result; /* signal_generate's result, or SIGSNOOP_NOT_GENERATED */
    __u32 source; /* enum sigsnoop_source */
    char comm[SIGSNOOP_COMM_LEN];  /* sender */
    char tcomm[SIGSNOOP_COMM_LEN]; /* target ("" when no signal was generated) */
};

#endif
