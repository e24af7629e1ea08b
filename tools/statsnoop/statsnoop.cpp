// statsnoop: every stat-family call (statfs, stat, lstat, newfstatat, statx) as it returns,
// libbpf-tools' statsnoop with its flags and text output, plus --json, --tid, -c CGROUP, every
// filter in the kernel, and a count of the records lost.
#include "statsnoop.skel.h"
#include "statsnoop.h"

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

#include <fmt/format.h>
#include <string>

namespace {

using namespace coretrace;
using namespace std::chrono;

// The kernel's names of the calls (stat is "newstat" on x86-64), by enum statsnoop_syscall.
constexpr const char* syscall_names[STATSNOOP_SYSCALLS] = {"statfs", "newstat", "newlstat",
                                                           "newfstatat", "statx"};

// An entry and an exit tracepoint per call; each is its own event, with one candidate.
constexpr std::string_view statfs_enter[] = {"tp/syscalls/sys_enter_statfs"};
constexpr std::string_view statfs_exit[] = {"tp/syscalls/sys_exit_statfs"};
constexpr std::string_view newstat_enter[] = {"tp/syscalls/sys_enter_newstat"};
constexpr std::string_view newstat_exit[] = {"tp/syscalls/sys_exit_newstat"};
constexpr std::string_view newlstat_enter[] = {"tp/syscalls/sys_enter_newlstat"};
constexpr std::string_view newlstat_exit[] = {"tp/syscalls/sys_exit_newlstat"};
constexpr std::string_view newfstatat_enter[] = {"tp/syscalls/sys_enter_newfstatat"};
constexpr std::string_view newfstatat_exit[] = {"tp/syscalls/sys_exit_newfstatat"};
constexpr std::string_view statx_enter[] = {"tp/syscalls/sys_enter_statx"};
constexpr std::string_view statx_exit[] = {"tp/syscalls/sys_exit_statx"};
constexpr hooks::EventHooks statsnoop_hooks[] = {
    {"statfs(2) entry", statfs_enter},         {"statfs(2) exit", statfs_exit},
    {"stat(2) entry", newstat_enter},          {"stat(2) exit", newstat_exit},
    {"lstat(2) entry", newlstat_enter},        {"lstat(2) exit", newlstat_exit},
    {"newfstatat(2) entry", newfstatat_enter}, {"newfstatat(2) exit", newfstatat_exit},
    {"statx(2) entry", statx_enter},           {"statx(2) exit", statx_exit},
};

struct Options {
    CommonOptions common;
    TaskFilter filter;
    long duration_s = 0;
    bool failed = false, relative_time = false;
};

// Chooses the tracepoints of one call (statsnoop_hooks[2 * call] and the exit after it): both
// load, or neither. Every call is optional (arm64 has no stat, lstat; kernels before 4.11 no
// statx); statsnoop needs one of them.
bool trace_syscall(bpf_object* object, std::size_t call) {
    return hooks::prefer_all(object, std::span(statsnoop_hooks).subspan(2 * call, 2));
}

// libbpf-tools' columns, or one JSON object per call.
class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.relative_time)
            std::printf("%-14s ", "TIME(s)");
        std::printf("%-7s %-20s %-4s %-4s %-s\n", "PID", "COMM", "RET", "ERR", "PATH");
        std::fflush(stdout);
    }

    void print(const statsnoop_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::string path = fixed_string(event.path);
        const int ret = event.ret >= 0 ? event.ret : -1;
        const int err = event.ret >= 0 ? 0 : -event.ret;
        const char* call =
            event.syscall < STATSNOOP_SYSCALLS ? syscall_names[event.syscall] : "unknown";

        if (options_.common.json) {
            write_json_record({{"ts_ns", clock_.unix_ns(event.ts_ns)},
                               {"pid", event.pid},
                               {"tid", event.tid},
                               {"comm", comm},
                               {"ret", ret},
                               {"errno", err},
                               {"syscall", call},
                               {"dirfd", event.dirfd},
                               {"flags", event.flags},
                               {"path", path},
                               {"path_null", event.path_null != 0},
                               {"path_truncated", event.path_truncated != 0}});
            return;
        }
        if (options_.relative_time) {
            if (!first_ts_)
                first_ts_ = event.ts_ns;
            std::printf("%-14.9f ", static_cast<double>(event.ts_ns - first_ts_) / 1e9);
        }
        std::printf("%-7u %-20s %-4d %-4d %-s\n", event.pid, comm.c_str(), ret, err, path.c_str());
    }

  private:
    const Options& options_;
    KernelClock clock_;
    std::uint64_t first_ts_ = 0;
};

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<statsnoop_bpf>::open();
    std::string traced;
    for (std::size_t call = 0; call < STATSNOOP_SYSCALLS; call++)
        if (trace_syscall(skel.object(), call))
            traced += (traced.empty() ? "" : ", ") + std::string(syscall_names[call]);
    if (traced.empty())
        throw Error("this kernel has none of the stat system call tracepoints (statfs, newstat, "
                    "newlstat, newfstatat, statx); -v says why each was passed over");

    skel->rodata->targ_failed = options.failed;

    run_events<statsnoop_event, Printer>(
        skel, options.filter, stop, options.common,
        {fmt::format("Tracing stat syscalls ({})... Hit Ctrl-C to end.", traced),
         seconds(options.duration_s), &skel->bss->args_dropped},
        options);
    return 0;
}

int statsnoop_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Trace stat syscalls: statfs, stat, lstat, newfstatat and statx, as they "
                 "return.\nEvery filter is applied in the kernel.\n\n"
                 "USAGE: statsnoop [-h] [-t] [-x] [-p PID] [--tid TID] [-c CG] [-d DURATION] "
                 "[--json]\n\n"
                 "EXAMPLES:\n"
                 "    statsnoop             # trace all stat syscalls\n"
                 "    statsnoop -t          # include timestamps\n"
                 "    statsnoop -x          # only show failed stats\n"
                 "    statsnoop -p 1216     # only trace PID 1216\n"
                 "    statsnoop --tid 1217  # only trace thread 1217\n"
                 "    statsnoop -c CG       # only trace processes in cgroup v2 directory CG\n"
                 "    statsnoop --json      # one JSON object per call, and a summary at the end",
                 "statsnoop"};
    add_pid_option(app, options.filter);
    add_tid_option(app, options.filter, "--tid", "Thread ID to trace");
    add_cgroup_option(app, options.filter);
    app.add_flag("-x,--failed", options.failed, "Only show failed stats");
    app.add_flag("-t,--timestamp", options.relative_time,
                 "Include timestamp on output (seconds since the first call shown)");
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(statsnoop, "stat(2), lstat(2), statfs(2), newfstatat(2) and statx(2) calls",
               statsnoop_main, statsnoop_hooks);
