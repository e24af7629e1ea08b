// runqslower: each run queue wait longer than a threshold, libbpf-tools' runqslower with its flags
// and text output, plus --json, the CPU, and a count of the records lost.
#include "runqslower.skel.h"
#include "runqslower.h"

#include "coretrace/clock.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <cstdio>
#include <fmt/format.h>

namespace {

using namespace coretrace;

// raw_tp first, as runqlat and cpudist: the same reads per event without the whole-kernel-BTF
// parse at start that tp_btf costs.
constexpr std::string_view wakeup_sections[] = {"raw_tp/sched_wakeup", "tp_btf/sched_wakeup"};
constexpr std::string_view wakeup_new_sections[] = {"raw_tp/sched_wakeup_new",
                                                    "tp_btf/sched_wakeup_new"};
constexpr std::string_view switch_sections[] = {"raw_tp/sched_switch", "tp_btf/sched_switch"};
constexpr hooks::EventHooks runqslower_hooks[] = {{"sched_wakeup", wakeup_sections},
                                                  {"sched_wakeup_new", wakeup_new_sections},
                                                  {"sched_switch", switch_sections}};

struct Options {
    CommonOptions common;
    TaskFilter filter;
    bool previous = false;
    long min_us = 10000;
};

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.previous)
            std::printf("%-8s %-16s %-6s %14s %-16s %-6s\n", "TIME", "COMM", "TID", "LAT(us)",
                        "PREV COMM", "PREV TID");
        else
            std::printf("%-8s %-16s %-6s %14s\n", "TIME", "COMM", "TID", "LAT(us)");
        std::fflush(stdout);
    }

    void print(const runqslower_event& event) const {
        const std::string comm = fixed_string(event.comm);
        const std::string prev_comm = fixed_string(event.prev_comm);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);
        const unsigned long long latency_us = event.latency_ns / 1000;

        if (options_.common.json) {
            write_json_record({{"ts_ns", unix_ns},
                               {"pid", event.pid},
                               {"tid", event.tid},
                               {"comm", comm},
                               {"latency_us", latency_us},
                               {"latency_ns", event.latency_ns},
                               {"cpu", event.cpu},
                               {"prev_tid", event.prev_tid},
                               {"prev_comm", prev_comm}});
            return;
        }
        std::printf("%-8s %-16s %-6u %14llu", clock_time(unix_ns).c_str(), comm.c_str(), event.tid,
                    latency_us);
        if (options_.previous)
            std::printf(" %-16s %-6u", prev_comm.c_str(), event.prev_tid);
        std::printf("\n");
    }

  private:
    const Options& options_;
    KernelClock clock_;
};

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<runqslower_bpf>::open();
    for (const auto& event : runqslower_hooks)
        hooks::prefer(skel.object(), event);
    skel->rodata->min_us = static_cast<__u64>(options.min_us);
    bpf_map__set_max_entries(skel->maps.ct_runq_start, static_cast<std::uint32_t>(sys::pid_max()));

    run_events<runqslower_event, Printer>(
        skel, options.filter, stop, options.common,
        {fmt::format("Tracing run queue latency higher than {} us... Hit "
                     "Ctrl-C to end.",
                     options.min_us),
         {},
         &skel->bss->starts_dropped},
        options);
    return 0;
}

int runqslower_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace high run queue latency: each time a task waited, runnable, longer than\n"
        "min_us microseconds for a CPU (after a wakeup, its creation, or a preemption).\n\n"
        "USAGE: runqslower [--help] [-p PID] [-t TID] [-P] [--json] [min_us]\n\n"
        "EXAMPLES:\n"
        "    runqslower         # trace latency higher than 10000 us (default)\n"
        "    runqslower 1000    # trace latency higher than 1000 us\n"
        "    runqslower -p 123  # trace pid 123\n"
        "    runqslower -t 123  # trace tid 123 (use for threads only)\n"
        "    runqslower -P      # also show previous task name and TID\n"
        "    runqslower --json 100  # one JSON object per wait, then a summary",
        "runqslower"};
    add_pid_option(app, options.filter, "Process PID to trace");
    add_tid_option(app, options.filter, "-t,--tid", "Thread TID to trace");
    app.add_flag("-P,--previous", options.previous, "Also show previous task name and TID");
    add_common_options(app, options.common, false);
    app.add_option("min_us", options.min_us,
                   "Report waits longer than this, in microseconds (default 10000)")
        ->check(positive_integer);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(runqslower, "run queue waits longer than a threshold, one record each",
               runqslower_main, runqslower_hooks);
