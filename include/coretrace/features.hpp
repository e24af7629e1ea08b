// Probes of what the running kernel can do, each testing the mechanism itself (a trial load, the
// PMU or tracefs entry, a map creation), never a symbol's mere presence: a function listed in
// /proc/kallsyms says nothing about whether a kprobe can attach to it.
#pragma once

#include <string>
#include <string_view>

namespace coretrace::features {

struct Support {
    bool ok = false;
    std::string reason; // why not, or how it was established
    explicit operator bool() const { return ok; }
};

// True when the user turned a mechanism off with CORETRACE_DISABLE (comma-separated among
// tp_btf, raw_tp, tracepoint, fentry, kprobe, uprobe, ringbuf, btf_cache): a way around a broken
// hook on some kernel, and how the tests run fallback paths on a kernel that has the preferred one.
bool disabled_by_user(std::string_view mechanism);

// tracefs mount point (mounting it when missing and allowed), or "" if unavailable.
std::string tracefs_root();

Support kernel_btf();
// A classic tracepoint "category:event": its tracefs format file exists.
Support tracepoint(std::string_view category, std::string_view event);
// Raw tracepoints: the program type loads and the tracepoint exists.
Support raw_tracepoint(std::string_view event);
// BTF-typed tracepoint: btf_trace_<event> in the kernel's BTF and a trial tracing program loads.
Support tp_btf(std::string_view event);
// fentry/fexit on a kernel function: trial load against its BTF id, then a trial attach. Tells a
// function without BTF (what libbpf reports as ESRCH) from a kernel that refuses the mechanism
// (EPERM: no ftrace direct calls, lockdown) and from a function with BTF but no address (ENOENT).
Support fentry(std::string_view function, bool exit = false);
// kprobes: a kprobe PMU or tracefs kprobe_events exists; without them attaching fails with ENOENT.
Support kprobe();
// A kprobe (or kretprobe) on `function` ("name" or "name+offset"): with the kprobe PMU, a trial
// perf event on it opens, so a function the kernel cannot probe (ENOENT: unknown or inlined;
// EINVAL: on the kprobe blacklist) is passed over instead of failing the tool at attach.
Support kprobe(std::string_view function, bool retprobe = false);
// uprobes: a uprobe PMU or tracefs uprobe_events exists.
Support uprobe();
Support ring_buffer();
Support perf_event_software();
// Hardware events (CPU cycles): a PMU that counts them exists.
Support perf_event_hardware();
// A BPF helper (e.g. BPF_FUNC_loop) is accepted in tracepoint programs.
Support helper(int helper_id, std::string_view name);

} // namespace coretrace::features
