// funclatency: the latency of a function as a log2 histogram, libbpf-tools' funclatency with its
// flags and text output, plus --json. User-space functions ("lib:func", "/path:func", ":func"
// with -p) through uprobes; kernel functions only where the kernel allows kprobes, with a clear
// error where it does not (this kernel allows neither fentry nor kprobes).
#include "funclatency.skel.h"
#include "funclatency.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/features.hpp"
#include "coretrace/histogram.hpp"
#include "coretrace/link.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"
#include "coretrace/uprobe_target.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace {

using namespace coretrace;

struct Options {
    CommonOptions common;
    TaskFilter filter;
    std::string function;
    bool milliseconds = false, microseconds = false;
    long duration_s = 0, interval_s = 0;
};

const char* unit_name(const Options& options) {
    return options.milliseconds ? "msecs" : options.microseconds ? "usecs" : "nsecs";
}

// Kernel functions need fentry or kprobes: a kprobe pair where the kernel allows kprobes, else
// one line saying what this kernel refuses.
void require_kernel_tracing(const std::string& function) {
    if (features::kprobe())
        return;
    const auto fentry = features::fentry(function);
    const auto kprobe = features::kprobe();
    throw Error(fmt::format("{}: tracing a kernel function needs fentry or kprobes, and this "
                            "kernel allows neither (fentry: {}; kprobe: {}); trace a user-space "
                            "function as LIBRARY:FUNCTION or /PATH:FUNCTION",
                            function, fentry.reason, kprobe.reason));
}

Link attach_kprobe(bpf_program* program, const std::string& function, bool retprobe) {
    errno = 0;
    Link link(bpf_program__attach_kprobe(program, retprobe, function.c_str()));
    if (!link)
        throw_system_error(
            fmt::format("cannot attach a {} to {}", retprobe ? "kretprobe" : "kprobe", function),
            errno ? errno : EINVAL);
    return link;
}

void report(const Options& options, const std::string& name, funclatency_bpf& bpf) {
    std::array<std::uint32_t, FUNCLATENCY_SLOTS> slots;
    std::memcpy(slots.data(), bpf.bss->hist, sizeof(slots));
    std::memset(bpf.bss->hist, 0, sizeof(slots));
    const char* unit = unit_name(options);
    if (options.common.json) {
        emit_json_line(nlohmann::json{{"time_unix_ns", unix_time_ns()},
                                      {"function", name},
                                      {"unit", unit},
                                      {"count", hist_total(slots)},
                                      {"buckets", log2_hist_json(slots, unit)}}
                           .dump());
        return;
    }
    const std::string out =
        report_heading(options.common.timestamp) + format_log2_hist(slots, unit);
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    const uprobe::Spec spec = uprobe::parse(options.function);
    std::optional<uprobe::Target> target;
    if (spec.user)
        target = uprobe::resolve(spec, options.filter.tgid ? options.filter.tgid : -1);
    else
        require_kernel_tracing(spec.function);
    StopSignals stop;

    auto skel = Skeleton<funclatency_bpf>::open();
    bpf_program__set_autoload(skel->progs.uprobe_entry, spec.user);
    bpf_program__set_autoload(skel->progs.uprobe_return, spec.user);
    bpf_program__set_autoload(skel->progs.kprobe_entry, !spec.user);
    bpf_program__set_autoload(skel->progs.kprobe_return, !spec.user);
    skel->rodata->targ_units = options.milliseconds   ? FUNCLATENCY_MSEC
                               : options.microseconds ? FUNCLATENCY_USEC
                                                      : FUNCLATENCY_NSEC;
    options.filter.configure(skel->rodata);
    skel.load();
    options.filter.install(skel->maps.ct_cgroup_filter);
    // Owned by the skeleton, which detaches them when it dies (error or exit). The return probe
    // first, so that no call is counted whose return we would miss.
    if (target) {
        skel->links.uprobe_return =
            uprobe::attach(skel->progs.uprobe_return, *target, true).release();
        skel->links.uprobe_entry =
            uprobe::attach(skel->progs.uprobe_entry, *target, false).release();
    } else {
        skel->links.kprobe_return =
            attach_kprobe(skel->progs.kprobe_return, spec.function, true).release();
        skel->links.kprobe_entry =
            attach_kprobe(skel->progs.kprobe_entry, spec.function, false).release();
    }

    const std::string name = uprobe::describe(spec);
    announce(options.common, fmt::format("Tracing {}.  Hit Ctrl-C to exit", name));
    Pacing pacing;
    if (options.interval_s)
        pacing.interval = std::chrono::seconds(options.interval_s);
    if (options.duration_s) {
        if (!options.interval_s || options.interval_s > options.duration_s)
            pacing.interval = std::chrono::seconds(options.duration_s);
        pacing.count = std::max(1L, options.duration_s / pacing.interval.count());
    }
    pacing.run(stop, [&] { report(options, name, *skel); });
    skel.detach();
    if (!options.common.json)
        std::printf("Exiting trace of %s\n", name.c_str());
    if (skel->bss->starts_dropped)
        std::fprintf(stderr, "%llu calls not measured (too many threads in calls at once)\n",
                     static_cast<unsigned long long>(skel->bss->starts_dropped));
    return 0;
}

int funclatency_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Time functions and print latency as a histogram\n\n"
        "Usage: funclatency [-h] [-m|-u] [-p PID] [-d DURATION] [ -i INTERVAL ] [-c CG]\n"
        "                   [-T] [--json] FUNCTION\n"
        "       Choices for FUNCTION: FUNCTION         (kernel: needs fentry or kprobes,\n"
        "                                               which this kernel may refuse)\n"
        "                             LIBRARY:FUNCTION (uprobe a library; with -p PID, the\n"
        "                                               one that process maps)\n"
        "                             :FUNCTION        (uprobe the binary of -p PID)\n"
        "                             PROGRAM:FUNCTION (uprobe the binary PROGRAM)\n\n"
        "Examples:\n"
        "  ./funclatency -u libc:malloc          # time malloc(), in microseconds\n"
        "  ./funclatency -p 181 c:read           # time the read() C library function\n"
        "  ./funclatency -p 181 :foo             # time foo() from pid 181's userspace\n"
        "  ./funclatency -m /bin/bash:readline   # time bash's readline(), in milliseconds\n"
        "  ./funclatency -i 2 -d 10 libc:open    # output every 2 seconds, for 10s\n"
        "  ./funclatency -mTi 5 libc:fsync       # output every 5 seconds, with timestamps\n"
        "  ./funclatency -m do_nanosleep         # a kernel function (fentry/kprobe kernels)",
        "funclatency"};
    auto* ms = app.add_flag("-m,--milliseconds", options.milliseconds, "Output in milliseconds");
    app.add_flag("-u,--microseconds", options.microseconds, "Output in microseconds")->excludes(ms);
    add_pid_option(app, options.filter);
    app.add_option("-i,--interval", options.interval_s, "Summary interval in seconds")
        ->check(positive_integer);
    add_cgroup_option(app, options.filter);
    app.add_option("-d,--duration", options.duration_s, "Duration to trace")
        ->check(positive_integer);
    app.add_option("function", options.function, "FUNCTION, LIBRARY:FUNCTION or :FUNCTION")
        ->required();
    add_common_options(app, options.common, true);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(funclatency, "latency of a user-space function as a histogram", funclatency_main);
