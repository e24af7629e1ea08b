// Kernel feature probes. Each one exercises the mechanism a tool would use (loading a two-
// instruction program of the right type, opening the event), so its answer is the tool's fate.
#include "coretrace/features.hpp"

#include "coretrace/error.hpp"
#include "coretrace/fd.hpp"
#include "coretrace/kernel_btf.hpp"
#include "coretrace/system.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace coretrace::features {
namespace {

// r0 = 0; exit: the smallest program every type accepts.
constexpr bpf_insn return_zero[] = {
    {BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0},
    {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
};

UniqueFd trial_load(bpf_prog_type type, bpf_attach_type attach_type, std::uint32_t attach_btf_id) {
    bpf_prog_load_opts opts{};
    opts.sz = sizeof(opts);
    opts.expected_attach_type = attach_type;
    opts.attach_btf_id = attach_btf_id;
    errno = 0;
    int fd = bpf_prog_load(type, nullptr, "GPL", return_zero, 2, &opts);
    if (fd < 0 && errno == 0)
        errno = -fd;
    return UniqueFd(fd);
}

Support yes(std::string reason) {
    return {true, std::move(reason)};
}
Support no(std::string reason) {
    return {false, std::move(reason)};
}

bool readable(const std::string& path) {
    return ::access(path.c_str(), R_OK) == 0;
}

// "EPERM" for EPERM: the name the kernel sources and libbpf's messages use.
// The kernel's ENOTSUPP (not EOPNOTSUPP), which some BPF paths return to user space.
constexpr int ENOTSUPP_ = 524;
std::string errno_name(int error) {
    if (error == ENOTSUPP_)
        return "ENOTSUPP"; // unknown to the C library
    const char* name = ::strerrorname_np(error);
    return name ? name : fmt::format("errno {}", error);
}

Support disabled(std::string_view mechanism) {
    return no(fmt::format("{} disabled by CORETRACE_DISABLE", mechanism));
}

} // namespace

bool disabled_by_user(std::string_view mechanism) {
    const char* env = std::getenv("CORETRACE_DISABLE");
    if (!env)
        return false;
    std::string_view list(env);
    while (!list.empty()) {
        auto comma = list.find(',');
        if (list.substr(0, comma) == mechanism)
            return true;
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    }
    return false;
}

std::string tracefs_root() {
    try {
        return sys::require_tracefs();
    } catch (const Error&) {
        return {};
    }
}

Support kernel_btf() {
    if (readable(btf::vmlinux_path))
        return yes(fmt::format("{} is readable", btf::vmlinux_path));
    return no(fmt::format("kernel has no BTF ({} missing; needs CONFIG_DEBUG_INFO_BTF)",
                          btf::vmlinux_path));
}

Support tracepoint(std::string_view category, std::string_view event) {
    if (disabled_by_user("tracepoint"))
        return disabled("tracepoint");
    std::string root = tracefs_root();
    if (root.empty())
        return no("tracefs is not mounted and cannot be mounted");
    std::string format = fmt::format("{}/events/{}/{}/format", root, category, event);
    if (!readable(format))
        return no(fmt::format("no tracepoint {}:{} ({} missing)", category, event, format));
    return yes(fmt::format("{} exists", format));
}

Support raw_tracepoint(std::string_view event) {
    if (disabled_by_user("raw_tp"))
        return disabled("raw_tp");
    UniqueFd prog = trial_load(BPF_PROG_TYPE_RAW_TRACEPOINT, static_cast<bpf_attach_type>(0), 0);
    if (!prog)
        return no(fmt::format("raw tracepoint programs do not load: {}", std::strerror(errno)));
    std::string name(event);
    UniqueFd link(bpf_raw_tracepoint_open(name.c_str(), prog.get()));
    if (!link)
        return no(
            fmt::format("raw tracepoint {} cannot be opened: {}", event, std::strerror(errno)));
    return yes(fmt::format("raw tracepoint {} opened in a trial", event));
}

Support tp_btf(std::string_view event) {
    if (disabled_by_user("tp_btf"))
        return disabled("tp_btf");
    if (auto btf = kernel_btf(); !btf)
        return btf;
    std::string type_name = fmt::format("btf_trace_{}", event);
    auto id = btf::find_type_id(btf::vmlinux_path, type_name, btf::Kind::typedef_);
    if (!id)
        return no(
            fmt::format("kernel BTF has no {} (no such tracepoint, or BTF too old)", type_name));
    UniqueFd prog = trial_load(BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, *id);
    if (!prog)
        return no(fmt::format("BTF-typed tracepoint programs do not load here: {}",
                              std::strerror(errno)));
    return yes(fmt::format("a tp_btf program for {} loaded in a trial", event));
}

Support fentry(std::string_view function, bool exit) {
    std::string_view kind = exit ? "fexit" : "fentry";
    if (disabled_by_user("fentry"))
        return disabled("fentry");
    if (auto btf = kernel_btf(); !btf)
        return btf;
    auto id = btf::find_type_id(btf::vmlinux_path, function, btf::Kind::func);
    if (!id)
        return no(fmt::format("{} is not a BTF function of this kernel, so {} cannot attach to "
                              "it (ESRCH)",
                              function, kind));
    UniqueFd prog =
        trial_load(BPF_PROG_TYPE_TRACING, exit ? BPF_TRACE_FEXIT : BPF_TRACE_FENTRY, *id);
    if (!prog) {
        int error = errno;
        if (error == EPERM || error == EACCES || error == EOPNOTSUPP || error == ENOTSUPP_)
            return no(fmt::format("this kernel refuses {} programs: {} ({}: no ftrace direct "
                                  "calls, or lockdown)",
                                  kind, std::strerror(error), errno_name(error)));
        if (error == ENOENT)
            return no(fmt::format("{} has BTF but no address in this kernel (ENOENT: inlined or "
                                  "removed), so {} cannot attach to it",
                                  function, kind));
        return no(fmt::format("{} on {} does not load: {} ({})", kind, function,
                              std::strerror(error), errno_name(error)));
    }
    UniqueFd link(
        bpf_link_create(prog.get(), 0, exit ? BPF_TRACE_FEXIT : BPF_TRACE_FENTRY, nullptr));
    if (!link) {
        const int error = errno;
        // What the kernel means by these at attach, for this function only.
        std::string_view why = error == ENOTSUPP_ ? ": the trampoline cannot take this "
                                                    "function (too many arguments, or one "
                                                    "passed by value)"
                               : error == EBUSY   ? ": no patchable entry (not traceable here)"
                                                  : "";
        return no(fmt::format("{} on {} loads but does not attach: {} ({}{})", kind, function,
                              error == ENOTSUPP_ ? "not supported" : std::strerror(error),
                              errno_name(error), why));
    }
    return yes(fmt::format("{} on {} loaded and attached in a trial", kind, function));
}

namespace {
// kprobes and uprobes are both dynamic probes: a PMU of that name, or tracefs <kind>_events.
Support dynamic_probe(const std::string& kind) {
    if (disabled_by_user(kind))
        return disabled(kind);
    if (readable("/sys/bus/event_source/devices/" + kind + "/type"))
        return yes(kind + " PMU present");
    std::string root = tracefs_root();
    if (!root.empty() && readable(root + "/" + kind + "_events"))
        return yes("tracefs " + kind + "_events present");
    return no(fmt::format("this kernel has no {0}s (no {0} PMU, no tracefs {0}_events)", kind));
}
} // namespace

Support kprobe() {
    Support any = dynamic_probe("kprobe");
    if (!any && !disabled_by_user("kprobe"))
        any.reason = "this kernel has no kprobes (no kprobe PMU, no tracefs kprobe_events; "
                     "attaching one fails with ENOENT)";
    return any;
}

Support kprobe(std::string_view function, bool retprobe) {
    Support any = kprobe();
    if (!any)
        return any;
    const std::string pmu = "/sys/bus/event_source/devices/kprobe/";
    std::string type = sys::read_first_line(pmu + "type");
    if (type.empty()) // tracefs kprobe_events only: libbpf attaches through it, no trial here
        return any;
    std::string name(function);
    std::uint64_t offset = 0;
    if (auto plus = name.find('+'); plus != std::string::npos) {
        offset = std::strtoull(name.c_str() + plus + 1, nullptr, 0);
        name.resize(plus);
    }
    perf_event_attr attr{};
    attr.size = sizeof(attr);
    attr.type = static_cast<std::uint32_t>(std::stoul(type));
    if (retprobe) { // "config:0": the bit of config that asks for a return probe
        std::string format = sys::read_first_line(pmu + "format/retprobe");
        auto colon = format.find(':');
        int bit = colon == std::string::npos ? 0 : std::atoi(format.c_str() + colon + 1);
        attr.config |= 1ULL << bit;
    }
    attr.config1 = reinterpret_cast<std::uint64_t>(name.c_str()); // kprobe_func
    attr.config2 = offset;                                        // probe_offset
    std::string_view kind = retprobe ? "kretprobe" : "kprobe";
    UniqueFd fd(
        static_cast<int>(syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC)));
    if (fd)
        return yes(fmt::format("{} on {} opened in a trial", kind, function));
    int error = errno;
    if (error == ENOENT)
        return no(fmt::format("no {} can attach to {}: not a function this kernel can find "
                              "(ENOENT: unknown, or inlined)",
                              kind, function));
    if (error == EINVAL)
        return no(fmt::format("{} cannot be probed (EINVAL: on the kprobe blacklist, notrace, "
                              "or not an instruction boundary)",
                              function));
    return no(fmt::format("{} on {} does not open: {} ({})", kind, function, std::strerror(error),
                          errno_name(error)));
}
Support uprobe() {
    return dynamic_probe("uprobe");
}

Support helper(int helper_id, std::string_view name) {
    int ret = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, static_cast<bpf_func_id>(helper_id),
                                      nullptr);
    if (ret == 1)
        return yes(fmt::format("{} accepted by the verifier in a trial", name));
    return no(fmt::format("{} is not available to tracing programs here", name));
}

Support ring_buffer() {
    if (disabled_by_user("ringbuf"))
        return disabled("ringbuf");
    int ret = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr);
    return ret == 1 ? yes("ring buffer map created in a trial")
                    : no("no BPF ring buffer (kernel older than 5.8)");
}

namespace {
UniqueFd open_perf_event(std::uint32_t type, std::uint64_t config) {
    perf_event_attr attr{};
    attr.size = sizeof(attr);
    attr.type = type;
    attr.config = config;
    attr.sample_freq = 1;
    attr.freq = 1;
    attr.disabled = 1;
    return UniqueFd(
        static_cast<int>(syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC)));
}
} // namespace

Support perf_event_software() {
    if (!open_perf_event(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK))
        return no(fmt::format("software perf events cannot be opened: {}", std::strerror(errno)));
    return yes("cpu-clock perf event opened in a trial");
}

Support perf_event_hardware() {
    if (!open_perf_event(PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES))
        return no(
            errno == ENOENT || errno == EOPNOTSUPP
                ? "no hardware PMU on this machine (cpu-cycles cannot be opened)"
                : fmt::format("hardware perf events cannot be opened: {}", std::strerror(errno)));
    return yes("cpu-cycles perf event opened in a trial");
}

} // namespace coretrace::features
