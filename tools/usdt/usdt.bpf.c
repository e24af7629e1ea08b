/* usdt: one record per firing of a USDT probe, with its arguments decoded by libbpf's
 * bpf_usdt_arg() (the note's "-4@%edi 8@%rax" specs, which libbpf turned into a spec map at
 * attach time). Arguments that user space marked as strings (targ_str_mask) are also read as
 * NUL-terminated user strings. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>
#include <coretrace/filter.bpf.h>
#define CT_EVENT_MAX_BYTES 1024
#include <coretrace/events.bpf.h>
#include "usdt.h"

char LICENSE[] SEC("license") = "GPL";

/* Bit i: read argument i as a string too. */
const volatile __u32 targ_str_mask = 0;

SEC("usdt")
int on_fire(struct pt_regs* ctx) {
    __u64 id = bpf_get_current_pid_tgid();
    struct usdt_event* event;
    int count, i;

    if (!ct_current_selected())
        return 0;
    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    event->ts_ns = bpf_ktime_get_ns();
    event->cookie = bpf_usdt_cookie(ctx);
    event->pid = id >> 32;
    event->tid = (__u32)id;
    event->str_truncated = 0;
    event->str_failed = 0;
    event->pad = 0;
    bpf_get_current_comm(event->comm, sizeof(event->comm));
    count = bpf_usdt_arg_cnt(ctx);
    if (count < 0)
        count = 0;
    event->nargs = count;
    for (i = 0; i < USDT_MAX_ARGS; i++) {
        long value = 0;

        event->strs[i][0] = '\0';
        if (i >= count || bpf_usdt_arg(ctx, i, &value)) {
            event->args[i] = 0;
            continue;
        }
        event->args[i] = value;
        if (targ_str_mask & (1u << i)) {
            long len = bpf_probe_read_user_str(event->strs[i], USDT_STR_LEN, (const void*)value);
            if (len <= 0) {
                event->strs[i][0] = '\0';
                event->str_failed |= 1u << i;
            } else if (len == USDT_STR_LEN) {
                char next = 0;

                if (bpf_probe_read_user(&next, 1, (const char*)value + USDT_STR_LEN - 1) ||
                    next != '\0')
                    event->str_truncated |= 1u << i;
            }
        }
    }
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}
