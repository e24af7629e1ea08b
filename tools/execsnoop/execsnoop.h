/* execsnoop: the record the BPF side sends per execve(2)/execveat(2) call, and the limits both
 * sides share. */
#ifndef CORETRACE_EXECSNOOP_H
#define CORETRACE_EXECSNOOP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define EXECSNOOP_COMM_LEN 16
/* Bytes kept per string, NUL included: a longer argument is cut to 127 bytes and flagged. */
#define EXECSNOOP_ARG_LEN 128
/* --max-args: at most this many strings (the path and argv[1...]), 20 by default. */
#define EXECSNOOP_MAX_ARGS 60
#define EXECSNOOP_DEFAULT_ARGS 20
#define EXECSNOOP_ARGS_BYTES (EXECSNOOP_MAX_ARGS * EXECSNOOP_ARG_LEN)
/* Longest -n NAME (a comm) and -l LINE (a pattern for the -l automaton). */
#define EXECSNOOP_NAME_MAX (EXECSNOOP_COMM_LEN - 1)
#define EXECSNOOP_LINE_MAX 64
/* -l is matched by an automaton: one row of 256 next states per state 0..EXECSNOOP_LINE_MAX. */
#define EXECSNOOP_DFA_SIZE ((EXECSNOOP_LINE_MAX + 1) * 256)

/* Which system call a record comes from. */
enum execsnoop_syscall {
    EXECSNOOP_EXECVE = 0,
    EXECSNOOP_EXECVEAT = 1,
};

struct execsnoop_event {
    __u64 ts_ns;      /* bpf_ktime_get_ns() at the call's return (CLOCK_MONOTONIC) */
    __u64 cut_args;   /* bit i: string i of args was longer than EXECSNOOP_ARG_LEN - 1 and cut */
    __u32 pid;        /* tgid */
    __u32 tid;        /* the thread that called exec (before a multi-threaded exec took the
                         leader's ID) */
    __u32 ppid;       /* tgid of the real parent at the call */
    __u32 uid;        /* real user ID at the call */
    __s32 retval;     /* 0, or -errno */
    __u32 syscall;    /* enum execsnoop_syscall */
    __u32 args_count; /* strings in args: the path, then argv[1], argv[2], ... */
    __u32 more_args;  /* 1 when argv had more entries than --max-args allowed */
    char comm[EXECSNOOP_COMM_LEN]; /* the new command's name (the caller's when it failed) */
    /* String i (NUL-terminated, zero-padded) in the slot of EXECSNOOP_ARG_LEN bytes at
     * i * EXECSNOOP_ARG_LEN, for i < args_count. */
    char args[EXECSNOOP_ARGS_BYTES];
};

#endif
