/* The record of the event-stream test program: a sequence number per getppid(2) call. */
#ifndef CORETRACE_TEST_STREAM_PROBE_H
#define CORETRACE_TEST_STREAM_PROBE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

struct stream_record {
    __u64 sequence; /* 1, 2, 3, ... in the order the calls were made */
    __u32 tid;
    __u32 task_state; /* ct_task_state(current): 0 (TASK_RUNNING) inside a syscall */
    __u8 payload[48];
};

#endif
