// exitsnoop: process exits as they happen, with their exit code or killing signal and their
// age; libbpf-tools' exitsnoop with its flags and text output, plus --json, -d, every filter in
// the kernel, and a count of the records lost.
#include "exitsnoop.skel.h"
#include "exitsnoop.h"

#include "coretrace/clock.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <cstring>
#include <fmt/format.h>
#include <string>

namespace {

using namespace coretrace;
using namespace std::chrono;

struct Options {
    CommonOptions common;
    TaskFilter filter;
    long duration_s = 0;
    bool failed = false, threads = false;
};

// raw_tp first: it attaches without tracefs and costs less per event than the classic one.
constexpr std::string_view exit_sections[] = {"raw_tp/sched_process_exit",
                                              "tp/sched/sched_process_exit"};
constexpr hooks::EventHooks exitsnoop_hooks[] = {{"sched_process_exit", exit_sections}};

// The status as wait(2) would see it, taken apart.
struct Status {
    int code;   // exit code, when no signal ended the task
    int signal; // 0: none
    bool core;  // a core was dumped
};
Status decode(std::uint32_t status) {
    return {static_cast<int>((status >> 8) & 0xff), static_cast<int>(status & 0x7f),
            (status & 0x80) != 0};
}

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.common.timestamp)
            std::printf("%-8s ", "TIME(s)");
        std::printf("%-16s %-7s %-7s %-7s %-7s %-s\n", "PCOMM", "PID", "PPID", "TID", "AGE(s)",
                    "EXIT_CODE");
        std::fflush(stdout);
    }

    void print(const exitsnoop_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::int64_t unix_ns = clock_.unix_ns(event.exit_ns);
        const std::uint64_t age_ns =
            event.exit_ns > event.start_ns ? event.exit_ns - event.start_ns : 0;
        const Status status = decode(event.exit_code);

        if (options_.common.json) {
            write_json_record({{"ts_ns", unix_ns},
                               {"pid", event.pid},
                               {"tid", event.tid},
                               {"ppid", event.ppid},
                               {"comm", comm},
                               {"age_ns", age_ns},
                               {"exit_code", status.signal ? 0 : status.code},
                               {"signal", status.signal},
                               {"core_dumped", status.core},
                               {"status", event.exit_code}});
            return;
        }
        if (options_.common.timestamp)
            std::printf("%8s ", clock_time(unix_ns).c_str());
        std::printf("%-16s %-7u %-7u %-7u %-7.2f ", comm.c_str(), event.pid, event.ppid, event.tid,
                    static_cast<double>(age_ns) / 1e9);
        if (status.signal)
            std::printf("signal %d (%s)", status.signal, strsignal(status.signal));
        else if (status.code)
            std::printf("code %d", status.code);
        else
            std::printf("0");
        // The core bit alone (no signal) cannot come from the kernel; print it whenever set.
        std::printf("%s\n", status.core ? ", core dumped" : "");
    }

  private:
    const Options& options_;
    KernelClock clock_;
};

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<exitsnoop_bpf>::open();
    hooks::prefer(skel.object(), exitsnoop_hooks[0]);
    skel->rodata->targ_failed = options.failed;
    skel->rodata->targ_threads = options.threads;
    run_events<exitsnoop_event, Printer>(skel, options.filter, stop, options.common,
                                         {options.threads
                                              ? "Tracing thread exits... Hit Ctrl-C to end."
                                              : "Tracing process exits... Hit Ctrl-C to end.",
                                          seconds(options.duration_s)},
                                         options);
    return 0;
}

int exitsnoop_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Trace process termination: each process's (with -T, each thread's) exit code\n"
                 "or killing signal, and its age. Every filter is applied in the kernel.\n\n"
                 "USAGE: exitsnoop [-h] [-t] [-x] [-p PID] [-T] [-c CG] [-d DURATION] [--json]\n\n"
                 "EXAMPLES:\n"
                 "    exitsnoop             # trace process exit events\n"
                 "    exitsnoop -t          # include timestamps\n"
                 "    exitsnoop -x          # trace error exits only\n"
                 "    exitsnoop -p 1216     # only trace PID 1216\n"
                 "    exitsnoop -T          # trace by thread\n"
                 "    exitsnoop -c CG       # only trace processes in cgroup v2 directory CG\n"
                 "    exitsnoop --json      # one JSON object per exit, and a summary at the end",
                 "exitsnoop"};
    app.add_flag("-t,--timestamp", options.common.timestamp, "Include timestamp on output");
    app.add_flag("-x,--failed", options.failed,
                 "Trace error exits only (a non-zero code, or a signal)");
    add_pid_option(app, options.filter);
    app.add_flag("-T,--threaded", options.threads, "Trace by thread");
    add_cgroup_option(app, options.filter);
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(exitsnoop, "process (or thread) exits with code, signal and age", exitsnoop_main,
               exitsnoop_hooks);
