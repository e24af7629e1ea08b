/* The block tools' BPF side: what a struct request says (its disk, its operation and flags in
 * block.h's stable form), read with CO-RE so that the same object runs on kernels before and
 * after 5.16 (request->rq_disk became request->q->disk) and whatever the REQ_* bit numbers. */
#ifndef CORETRACE_BLOCK_BPF_H
#define CORETRACE_BLOCK_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <coretrace/block_request.h>

struct request___has_rq_disk {
    struct gendisk* rq_disk;
} __attribute__((preserve_access_index));

/* The whole disk a request is for, as its dev_t (0 when unknown). */
static __always_inline __u32 ct_rq_dev(struct request* rq) {
    struct gendisk* disk;

    if (bpf_core_field_exists(((struct request___has_rq_disk*)rq)->rq_disk))
        disk = BPF_CORE_READ((struct request___has_rq_disk*)rq, rq_disk);
    else
        disk = BPF_CORE_READ(rq, q, disk);
    if (!disk)
        return 0;
    return BLOCK_MKDEV(BPF_CORE_READ(disk, major), BPF_CORE_READ(disk, first_minor));
}

#define CT_BLOCK_FLAG(out, cmd, kernel_bit, ours)                                                  \
    do {                                                                                           \
        if (bpf_core_enum_value_exists(enum req_flag_bits, kernel_bit) &&                          \
            ((cmd) & (1u << bpf_core_enum_value(enum req_flag_bits, kernel_bit))))                 \
            (out) |= (ours);                                                                       \
    } while (0)

/* cmd_flags in block.h's form: REQ_OP_* in the low 8 bits, BLOCK_F_* above. */
static __always_inline __u32 ct_rq_flags(struct request* rq) {
    __u32 cmd = BPF_CORE_READ(rq, cmd_flags);
    __u32 out = cmd & BLOCK_OP_MASK;

    CT_BLOCK_FLAG(out, cmd, __REQ_SYNC, BLOCK_F_SYNC);
    CT_BLOCK_FLAG(out, cmd, __REQ_META, BLOCK_F_META);
    CT_BLOCK_FLAG(out, cmd, __REQ_PRIO, BLOCK_F_PRIO);
    CT_BLOCK_FLAG(out, cmd, __REQ_NOMERGE, BLOCK_F_NOMERGE);
    CT_BLOCK_FLAG(out, cmd, __REQ_IDLE, BLOCK_F_IDLE);
    CT_BLOCK_FLAG(out, cmd, __REQ_INTEGRITY, BLOCK_F_INTEGRITY);
    CT_BLOCK_FLAG(out, cmd, __REQ_FUA, BLOCK_F_FUA);
    CT_BLOCK_FLAG(out, cmd, __REQ_PREFLUSH, BLOCK_F_PREFLUSH);
    CT_BLOCK_FLAG(out, cmd, __REQ_RAHEAD, BLOCK_F_RAHEAD);
    CT_BLOCK_FLAG(out, cmd, __REQ_BACKGROUND, BLOCK_F_BACKGROUND);
    CT_BLOCK_FLAG(out, cmd, __REQ_NOWAIT, BLOCK_F_NOWAIT);
    return out;
}

#endif
