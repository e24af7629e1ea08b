// syncsnoop: sync(2), syncfs(2), fsync(2), fdatasync(2), msync(2) and sync_file_range(2) calls
// as they are made, bcc's syncsnoop (which traces sync(2) alone) with its TIME(s)/CALL output,
// plus the caller's PID and name, -p/-t/-c filters in the kernel, --json, and a count of the
// records lost.
#include "syncsnoop.skel.h"
#include "syncsnoop.h"

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

// By enum syncsnoop_syscall.
constexpr const char* syscall_names[SYNCSNOOP_SYSCALLS] = {
    "sync", "syncfs", "fsync", "fdatasync", "msync", "sync_file_range"};

// One entry tracepoint per call, each its own event with one candidate. Every one is optional
// (sync_file_range is sync_file_range2 on some 32-bit architectures); one is needed.
constexpr std::string_view sync_enter[] = {"tp/syscalls/sys_enter_sync"};
constexpr std::string_view syncfs_enter[] = {"tp/syscalls/sys_enter_syncfs"};
constexpr std::string_view fsync_enter[] = {"tp/syscalls/sys_enter_fsync"};
constexpr std::string_view fdatasync_enter[] = {"tp/syscalls/sys_enter_fdatasync"};
constexpr std::string_view msync_enter[] = {"tp/syscalls/sys_enter_msync"};
constexpr std::string_view sync_file_range_enter[] = {"tp/syscalls/sys_enter_sync_file_range"};
constexpr hooks::EventHooks syncsnoop_hooks[] = {
    {"sync(2) entry", sync_enter},   {"syncfs(2) entry", syncfs_enter},
    {"fsync(2) entry", fsync_enter}, {"fdatasync(2) entry", fdatasync_enter},
    {"msync(2) entry", msync_enter}, {"sync_file_range(2) entry", sync_file_range_enter},
};

struct Options {
    CommonOptions common;
    TaskFilter filter;
    long duration_s = 0;
};

// The call with its arguments, as strace would write it: fsync(3), msync(0x7f.., 4096, 4).
std::string call_text(const syncsnoop_event& e) {
    const int fd = static_cast<int>(e.arg0);
    switch (e.syscall) {
    case SYNCSNOOP_SYNC:
        return "sync()";
    case SYNCSNOOP_SYNCFS:
    case SYNCSNOOP_FSYNC:
    case SYNCSNOOP_FDATASYNC:
        return fmt::format("{}({})", syscall_names[e.syscall], fd);
    case SYNCSNOOP_MSYNC:
        return fmt::format("msync({:#x}, {}, {})", e.arg0, e.arg1, static_cast<int>(e.arg2));
    case SYNCSNOOP_SYNC_FILE_RANGE:
        return fmt::format("sync_file_range({}, {}, {}, {})", fd, static_cast<std::int64_t>(e.arg1),
                           static_cast<std::int64_t>(e.arg2), static_cast<unsigned>(e.arg3));
    }
    return "unknown()";
}

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        std::printf("%-18s %-7s %-16s %s\n", "TIME(s)", "PID", "COMM", "CALL");
        std::fflush(stdout);
    }

    void print(const syncsnoop_event& e) {
        const std::string comm = fixed_string(e.comm);
        if (!options_.common.json) {
            std::printf("%-18.9f %-7u %-16s %s\n", static_cast<double>(e.ts_ns) / 1e9, e.pid,
                        comm.c_str(), call_text(e).c_str());
            return;
        }
        nlohmann::json record = {
            {"ts_ns", clock_.unix_ns(e.ts_ns)},
            {"monotonic_ns", e.ts_ns},
            {"pid", e.pid},
            {"tid", e.tid},
            {"comm", comm},
            {"syscall", e.syscall < SYNCSNOOP_SYSCALLS ? syscall_names[e.syscall] : "unknown"}};
        switch (e.syscall) {
        case SYNCSNOOP_SYNCFS:
        case SYNCSNOOP_FSYNC:
        case SYNCSNOOP_FDATASYNC:
            record["fd"] = static_cast<int>(e.arg0);
            break;
        case SYNCSNOOP_MSYNC:
            record["addr"] = e.arg0;
            record["length"] = e.arg1;
            record["flags"] = static_cast<int>(e.arg2);
            break;
        case SYNCSNOOP_SYNC_FILE_RANGE:
            record["fd"] = static_cast<int>(e.arg0);
            record["offset"] = static_cast<std::int64_t>(e.arg1);
            record["nbytes"] = static_cast<std::int64_t>(e.arg2);
            record["flags"] = static_cast<unsigned>(e.arg3);
            break;
        }
        write_json_record(record);
    }

  private:
    const Options& options_;
    KernelClock clock_;
};

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<syncsnoop_bpf>::open();
    std::string traced;
    for (std::size_t call = 0; call < SYNCSNOOP_SYSCALLS; call++)
        if (hooks::prefer_all(skel.object(), std::span(syncsnoop_hooks).subspan(call, 1)))
            traced += (traced.empty() ? "" : ", ") + std::string(syscall_names[call]);
    if (traced.empty())
        throw Error("this kernel has none of the sync system call tracepoints (sync, syncfs, "
                    "fsync, fdatasync, msync, sync_file_range); -v says why each was passed over");
    run_events<syncsnoop_event, Printer>(
        skel, options.filter, stop, options.common,
        {fmt::format("Tracing sync syscalls ({})... Hit Ctrl-C to end.", traced),
         seconds(options.duration_s)},
        options);
    return 0;
}

int syncsnoop_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Trace sync syscalls: sync, syncfs, fsync, fdatasync, msync, sync_file_range.\n"
                 "Every filter is applied in the kernel.\n\n"
                 "USAGE: syncsnoop [-h] [-p PID] [-t TID] [-c CG] [-d DURATION] [-v] [--json]\n\n"
                 "EXAMPLES:\n"
                 "    syncsnoop          # trace sync syscalls\n"
                 "    syncsnoop -p 1216  # only trace PID 1216\n"
                 "    syncsnoop -c CG    # only trace processes in cgroup v2 directory CG\n"
                 "    syncsnoop --json   # one JSON object per call, and a summary at the end",
                 "syncsnoop"};
    add_pid_option(app, options.filter);
    add_tid_option(app, options.filter);
    add_cgroup_option(app, options.filter);
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(syncsnoop, "sync(2), fsync(2), fdatasync(2), syncfs(2), msync(2) calls",
               syncsnoop_main, syncsnoop_hooks);
