/* bashreadline: every line an interactive bash reads, from a uretprobe on readline(). The
 * function returns the line it read (a malloc'd string; NULL at end of input), which is copied
 * into one record. Like libbpf-tools, only processes whose command name is "bash" are reported
 * when tracing bash itself; with -s (readline in a shared library) any process calling it is. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <coretrace/events.bpf.h>
#include "bashreadline.h"

char LICENSE[] SEC("license") = "GPL";

/* Report only processes named exactly "bash". */
const volatile bool targ_bash_only = true;

static __always_inline bool is_bash(const char* comm) {
    return comm[0] == 'b' && comm[1] == 'a' && comm[2] == 's' && comm[3] == 'h' && comm[4] == 0;
}

SEC("uretprobe")
int readline_return(struct pt_regs* ctx) {
    const char* line = (const char*)PT_REGS_RC(ctx);
    struct bashreadline_event* event;
    char comm[BASHREADLINE_COMM_LEN];
    long len;

    if (!line)
        return 0;
    bpf_get_current_comm(comm, sizeof(comm));
    if (targ_bash_only && !is_bash(comm))
        return 0;
    event = ct_event_reserve(sizeof(*event));
    if (!event)
        return 0;
    event->ts_ns = bpf_ktime_get_ns();
    event->pid = bpf_get_current_pid_tgid() >> 32;
    event->uid = (__u32)bpf_get_current_uid_gid();
    event->truncated = 0;
    event->pad = 0;
    __builtin_memcpy(event->comm, comm, sizeof(comm));
    len = bpf_probe_read_user_str(event->line, sizeof(event->line), line);
    if (len <= 0) {
        /* Unreadable: an empty line, never bytes of an earlier record. */
        event->line[0] = '\0';
    } else if (len == BASHREADLINE_LINE_LEN) {
        char next = 0;

        if (bpf_probe_read_user(&next, 1, line + BASHREADLINE_LINE_LEN - 1) || next != '\0')
            event->truncated = 1;
    }
    ct_event_submit(ctx, event, sizeof(*event));
    return 0;
}
