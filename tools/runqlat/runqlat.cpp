// runqlat: run queue (scheduler) latency histograms, libbpf-tools' runqlat with its flags and
// output, plus --json and cgroup v2 filtering that follows the task woken, not its waker.
#include "runqlat_setup.hpp"

#include "coretrace/clock.hpp"
#include "coretrace/histogram.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/map.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace {

using namespace coretrace;

constexpr auto& runqlat_hooks = runqlat::hook_table;

struct Options {
    CommonOptions common;
    runqlat::Settings settings;
    TaskFilter filter;
    Pacing pacing;
};

void report(const Options& options, HashMap<std::uint32_t, runqlat_hist>& hists) {
    const char* unit = options.settings.milliseconds ? "msecs" : "usecs";
    const char* key_name = options.settings.key_name();
    auto items = hists.take();
    std::sort(items.begin(), items.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<KeyedHist> keyed;
    for (const auto& [key, hist] : items)
        keyed.push_back({key, fixed_string(hist.comm), hist.slots});

    if (options.common.json) {
        emit_json_line(nlohmann::json{{"time_unix_ns", unix_time_ns()},
                                      {"unit", unit},
                                      {"histograms", keyed_log2_hists_json(keyed, key_name, unit)}}
                           .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        return;
    }
    const std::string out =
        report_heading(options.common.timestamp) + format_keyed_log2_hists(keyed, key_name, unit);
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = runqlat::start(options.settings, options.filter);
    HashMap<std::uint32_t, runqlat_hist> hists(skel->maps.hists);

    announce(options.common, "Tracing run queue latency... Hit Ctrl-C to end.");
    options.pacing.run(stop, [&] { report(options, hists); });
    return 0;
}

int runqlat_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Summarize run queue (scheduler) latency as a histogram: the time from a task\n"
        "becoming runnable (woken, new, or preempted) to its running on a CPU.\n\n"
        "USAGE: runqlat [--help] [-T] [-m] [--pidnss] [-L] [-P] [-p PID] [-c CG] [--json]\n"
        "               [interval] [count]\n\n"
        "EXAMPLES:\n"
        "    runqlat         # summarize run queue latency as a histogram\n"
        "    runqlat 1 10    # print 1 second summaries, 10 times\n"
        "    runqlat -mT 1   # 1s summaries, milliseconds, and timestamps\n"
        "    runqlat -P      # show each PID separately\n"
        "    runqlat -p 185  # trace PID 185 only\n"
        "    runqlat -c CG   # trace tasks in cgroup v2 directory CG only\n"
        "    runqlat --json 1 5  # five 1-second histograms as JSON Lines",
        "runqlat"};
    app.add_flag("-m,--milliseconds", options.settings.milliseconds, "Millisecond histogram");
    auto* per_pidns =
        app.add_flag("--pidnss", options.settings.per_pidns, "Print a histogram per PID namespace");
    auto* per_process =
        app.add_flag("-P,--pids", options.settings.per_process, "Print a histogram per process ID")
            ->excludes(per_pidns);
    app.add_flag("-L,--tids", options.settings.per_thread, "Print a histogram per thread ID")
        ->excludes(per_process)
        ->excludes(per_pidns);
    add_pid_option(app, options.filter, "Trace this PID only");
    add_cgroup_option(app, options.filter, "Trace tasks in this cgroup v2 path only");
    add_common_options(app, options.common, true);
    add_pacing_options(app, options.pacing);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(runqlat, "run queue (scheduler) latency as a histogram", runqlat_main,
               runqlat_hooks);
