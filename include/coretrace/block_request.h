/* The block tools (biolatency, biosnoop, bitesize, ...): what their BPF and user sides share
 * about a request. The kernel's REQ_* flag bits move between versions, so the BPF side turns
 * cmd_flags into this stable form (bpf/include/coretrace/block.bpf.h): the operation (REQ_OP_*,
 * whose numbers have been stable since Linux 4.10) in the low 8 bits, and the flags below above
 * them. */
#ifndef CORETRACE_BLOCK_H
#define CORETRACE_BLOCK_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define BLOCK_OP_MASK 0xffu
/* Operation numbers (enum req_op). */
#define BLOCK_OP_READ 0u
#define BLOCK_OP_WRITE 1u
#define BLOCK_OP_FLUSH 2u
#define BLOCK_OP_DISCARD 3u
#define BLOCK_OP_SECURE_ERASE 5u
#define BLOCK_OP_ZONE_APPEND 7u
#define BLOCK_OP_WRITE_ZEROES 9u

#define BLOCK_F_SYNC (1u << 8)
#define BLOCK_F_META (1u << 9)
#define BLOCK_F_PRIO (1u << 10)
#define BLOCK_F_NOMERGE (1u << 11)
#define BLOCK_F_IDLE (1u << 12)
#define BLOCK_F_INTEGRITY (1u << 13)
#define BLOCK_F_FUA (1u << 14)
#define BLOCK_F_PREFLUSH (1u << 15)
#define BLOCK_F_RAHEAD (1u << 16)
#define BLOCK_F_BACKGROUND (1u << 17)
#define BLOCK_F_NOWAIT (1u << 18)

/* A disk's dev_t as the kernel keeps it (MKDEV: 12 bits of major, 20 of minor). */
#define BLOCK_MINOR_BITS 20
#define BLOCK_MKDEV(major, minor) (((__u32)(major) << BLOCK_MINOR_BITS) | (__u32)(minor))

#define BLOCK_COMM_LEN 16

#endif
