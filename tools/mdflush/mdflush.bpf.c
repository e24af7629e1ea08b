/* mdflush: flush requests (bios with REQ_PREFLUSH) as they are queued to an md (software RAID)
 * device. libbpf-tools hooks md_flush_request with fentry or a kprobe; where neither exists
 * this uses block:block_bio_queue, which every bio submitted to any disk passes, and keeps those
 * with REQ_PREFLUSH whose disk is an md one (name "md..."): the same bios, seen as they enter
 * the md device rather than inside the md driver. --all-disks keeps every disk's. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/events.bpf.h>
#include "mdflush.h"

char LICENSE[] SEC("license") = "GPL";

const volatile bool targ_all_disks = false;

struct bio___has_bi_disk {
    struct gendisk* bi_disk;
} __attribute__((preserve_access_index));

static __always_inline struct gendisk* bio_disk(struct bio* bio) {
    if (bpf_core_field_exists(((struct bio___has_bi_disk*)bio)->bi_disk))
        return BPF_CORE_READ((struct bio___has_bi_disk*)bio, bi_disk);
    return BPF_CORE_READ(bio, bi_bdev, bd_disk);
}

static __always_inline int queued(void* ctx, struct bio* bio) {
    __u32 opf = BPF_CORE_READ(bio, bi_opf);
    struct mdflush_event* event;
    struct gendisk* disk;
    char name[MDFLUSH_DISK_NAME_LEN] = {};
    __u64 id;

    if (!bpf_core_enum_value_exists(enum req_flag_bits, __REQ_PREFLUSH) ||
        !(opf & (1u << bpf_core_enum_value(enum req_flag_bits, __REQ_PREFLUSH))))
        return 0;
    disk = bio_disk(bio);
    if (!disk)
        return 0;
    BPF_CORE_READ_STR_INTO(&name, disk, disk_name);
    if (!targ_all_disks && !(name[0] == 'm' && name[1] == 'd'))
        return 0;

    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    id = bpf_get_current_pid_tgid();
    event->ts_ns = bpf_ktime_get_ns();
    event->pid = id >> 32;
    event->tid = (__u32)id;
    bpf_get_current_comm(&event->comm, sizeof(event->comm));
    __builtin_memcpy(event->disk, name, sizeof(event->disk));
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}

SEC("raw_tp/block_bio_queue")
int BPF_PROG(mdflush_queue_raw, struct bio* bio) {
    return queued(ctx, bio);
}

SEC("tp_btf/block_bio_queue")
int BPF_PROG(mdflush_queue_btf, struct bio* bio) {
    return queued(ctx, bio);
}
