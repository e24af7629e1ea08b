// opensnoop: every open(2), openat(2) and openat2(2) call as it returns, libbpf-tools' opensnoop
// with its flags and text output, plus --json, -c CGROUP, --path / --path-prefix, openat2, every
// filter in the kernel, and a count of the records lost.
#include "opensnoop.skel.h"
#include "opensnoop.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/log.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <cstring>
#include <fmt/format.h>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace coretrace;
using namespace std::chrono;

struct Options {
    CommonOptions common;
    TaskFilter filter;
    std::string name;
    std::string path_contains;
    std::string path_prefix;
    long duration_s = 0;
    bool failed = false, extended = false, print_uid = false;
};

const char* syscall_name(std::uint32_t syscall) {
    switch (syscall) {
    case OPENSNOOP_OPEN:
        return "open";
    case OPENSNOOP_OPENAT:
        return "openat";
    case OPENSNOOP_OPENAT2:
        return "openat2";
    }
    return "unknown";
}

// One entry and one exit tracepoint per system call; each is its own event, with one candidate.
constexpr std::string_view open_enter[] = {"tp/syscalls/sys_enter_open"};
constexpr std::string_view open_exit[] = {"tp/syscalls/sys_exit_open"};
constexpr std::string_view openat_enter[] = {"tp/syscalls/sys_enter_openat"};
constexpr std::string_view openat_exit[] = {"tp/syscalls/sys_exit_openat"};
constexpr std::string_view openat2_enter[] = {"tp/syscalls/sys_enter_openat2"};
constexpr std::string_view openat2_exit[] = {"tp/syscalls/sys_exit_openat2"};
constexpr hooks::EventHooks opensnoop_hooks[] = {
    {"open(2) entry", open_enter},       {"open(2) exit", open_exit},
    {"openat(2) entry", openat_enter},   {"openat(2) exit", openat_exit},
    {"openat2(2) entry", openat2_enter}, {"openat2(2) exit", openat2_exit},
};

// Chooses the tracepoints of one system call (opensnoop_hooks[first], its entry, and the exit
// after it): both load, or neither. A missing optional call (open(2) does not exist on arm64,
// openat2(2) before Linux 5.6) is left out; a missing openat(2) is an error.
bool trace_syscall(bpf_object* object, std::size_t first, bool required) {
    return hooks::prefer_all(object, std::span(opensnoop_hooks).subspan(first, 2), required);
}

// Writes the records as they come: libbpf-tools' columns, or one JSON object per record.
class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.common.timestamp)
            std::printf("%-8s ", "TIME");
        if (options_.print_uid)
            std::printf("%-7s ", "UID");
        std::printf("%-6s %-16s %3s %3s ", "PID", "COMM", "FD", "ERR");
        if (options_.extended)
            std::printf("%-8s ", "FLAGS");
        std::printf("PATH\n");
        std::fflush(stdout);
    }

    void print(const opensnoop_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::string path = fixed_string(event.path);
        const int fd = event.ret >= 0 ? event.ret : -1;
        const int err = event.ret >= 0 ? 0 : -event.ret;
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);

        if (options_.common.json) {
            write_json_record({{"ts_ns", unix_ns},
                               {"pid", event.pid},
                               {"tid", event.tid},
                               {"uid", event.uid},
                               {"comm", comm},
                               {"fd", fd},
                               {"errno", err},
                               {"flags", event.flags},
                               {"mode", event.mode},
                               {"path", path},
                               {"path_truncated", event.path_truncated != 0},
                               {"syscall", syscall_name(event.syscall)}});
            return;
        }
        if (options_.common.timestamp)
            std::printf("%-8s ", clock_time(unix_ns).c_str());
        if (options_.print_uid)
            std::printf("%-7u ", event.uid);
        std::printf("%-6u %-16s %3d %3d ", event.pid, comm.c_str(), fd, err);
        if (options_.extended)
            std::printf("%08o ", event.flags);
        std::printf("%s\n", path.c_str());
    }

  private:
    const Options& options_;
    KernelClock clock_;
};

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<opensnoop_bpf>::open();
    std::vector<std::string> traced;
    if (trace_syscall(skel.object(), 0, false))
        traced.emplace_back("open");
    trace_syscall(skel.object(), 2, true);
    traced.emplace_back("openat");
    if (trace_syscall(skel.object(), 4, false))
        traced.emplace_back("openat2");

    skel->rodata->targ_failed = options.failed;
    std::memcpy(const_cast<char*>(skel->rodata->targ_name), options.name.data(),
                options.name.size());
    skel->rodata->targ_name_len = static_cast<__u32>(options.name.size());
    const std::string& pattern =
        options.path_prefix.empty() ? options.path_contains : options.path_prefix;
    if (!pattern.empty()) {
        skel->rodata->path_match =
            options.path_prefix.empty() ? OPENSNOOP_PATH_CONTAINS : OPENSNOOP_PATH_PREFIX;
        std::memcpy(const_cast<char*>(skel->rodata->targ_path), pattern.data(), pattern.size());
        skel->rodata->targ_path_len = static_cast<__u32>(pattern.size());
    }

    std::string calls;
    for (const auto& name : traced)
        calls += (calls.empty() ? "" : ", ") + name;
    run_events<opensnoop_event, Printer>(
        skel, options.filter, stop, options.common,
        {fmt::format("Tracing open family syscalls ({})... Hit Ctrl-C to end.", calls),
         seconds(options.duration_s), &skel->bss->args_dropped},
        options);
    return 0;
}

int opensnoop_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace open family syscalls: open(2), openat(2) and openat2(2), as they return.\n"
        "Every filter, --path and --path-prefix included, is applied in the kernel.\n\n"
        "USAGE: opensnoop [-h] [-T] [-U] [-x] [-p PID] [-t TID] [-u UID] [-d DURATION]\n"
        "                 [-n NAME] [-e] [-c CG] [--path TEXT | --path-prefix TEXT] [--json]\n\n"
        "EXAMPLES:\n"
        "    opensnoop           # trace all open() syscalls\n"
        "    opensnoop -T        # include timestamps\n"
        "    opensnoop -U        # include UID\n"
        "    opensnoop -x        # only show failed opens\n"
        "    opensnoop -p 181    # only trace PID 181\n"
        "    opensnoop -t 123    # only trace TID 123\n"
        "    opensnoop -u 1000   # only trace UID 1000\n"
        "    opensnoop -d 10     # trace for 10 seconds only\n"
        "    opensnoop -n main   # only print process names containing \"main\"\n"
        "    opensnoop -e        # show extended fields\n"
        "    opensnoop -c CG     # only trace processes in cgroup v2 directory CG\n"
        "    opensnoop --path-prefix /etc/   # only paths starting with /etc/\n"
        "    opensnoop --json    # one JSON object per call, and a summary at the end",
        "opensnoop"};
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    app.add_flag("-e,--extended-fields", options.extended, "Print extended fields (FLAGS, octal)");
    app.add_option("-n,--name", options.name, "Trace process names containing this")
        ->check(bounded_text(OPENSNOOP_NAME_MAX, "a command name has at most 15 characters"));
    add_pid_option(app, options.filter);
    add_tid_option(app, options.filter);
    add_uid_option(app, options.filter, "User ID to trace");
    app.add_flag("-U,--print-uid", options.print_uid, "Print UID");
    app.add_flag("-x,--failed", options.failed, "Failed opens only");
    add_cgroup_option(app, options.filter);
    auto* contains =
        app.add_option("--path", options.path_contains, "Only paths containing this (as given)")
            ->check(bounded_text(OPENSNOOP_PATTERN_MAX, "the kernel-side pattern limit"));
    app.add_option("--path-prefix", options.path_prefix, "Only paths starting with this (as given)")
        ->check(bounded_text(OPENSNOOP_PATTERN_MAX, "the kernel-side pattern limit"))
        ->excludes(contains);
    add_common_options(app, options.common, true);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(opensnoop, "open(2), openat(2) and openat2(2) calls as they return", opensnoop_main,
               opensnoop_hooks);
