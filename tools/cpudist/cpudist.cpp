// cpudist: on-CPU / off-CPU time histograms, libbpf-tools' cpudist with its flags and output,
// plus --json, cgroup v2 filtering in the kernel, and every on-CPU slice counted.
#include "cpudist_setup.hpp"

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

constexpr auto& cpudist_hooks = cpudist::hook_table;

struct Options {
    CommonOptions common;
    cpudist::Settings settings;
    TaskFilter filter;
    Pacing pacing;
};

void report(const Options& options, HashMap<std::uint32_t, cpudist_hist>& hists) {
    const char* unit = options.settings.milliseconds ? "msecs" : "usecs";
    const char* key_name = options.settings.per_process  ? "pid"
                           : options.settings.per_thread ? "tid"
                                                         : nullptr;
    auto items = hists.take();
    std::sort(items.begin(), items.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<KeyedHist> keyed;
    for (const auto& [key, hist] : items)
        keyed.push_back({key, fixed_string(hist.comm), hist.slots});

    if (options.common.json) {
        emit_json_line(nlohmann::json{{"time_unix_ns", unix_time_ns()},
                                      {"mode", options.settings.offcpu ? "off-cpu" : "on-cpu"},
                                      {"unit", unit},
                                      {"histograms", keyed_log2_hists_json(keyed, key_name, unit)}}
                           .dump());
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

    auto skel = cpudist::start(options.settings, options.filter);
    HashMap<std::uint32_t, cpudist_hist> hists(skel->maps.hists);

    announce(options.common, fmt::format("Tracing {}-CPU time... Hit Ctrl-C to end.",
                                         options.settings.offcpu ? "off" : "on"));
    options.pacing.run(stop, [&] { report(options, hists); });
    return 0;
}

int cpudist_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Summarize on-CPU time per task as a histogram.\n\n"
                 "USAGE: cpudist [-O] [-T] [-m] [-P] [-L] [-p PID] [-c CG] [--json] [interval] "
                 "[count]\n\n"
                 "EXAMPLES:\n"
                 "    cpudist              # summarize on-CPU time as a histogram\n"
                 "    cpudist -O           # summarize off-CPU time as a histogram\n"
                 "    cpudist -c CG        # trace processes in cgroup v2 directory CG only\n"
                 "    cpudist 1 10         # print 1 second summaries, 10 times\n"
                 "    cpudist -mT 1        # 1s summaries, milliseconds, and timestamps\n"
                 "    cpudist -P           # show each PID separately\n"
                 "    cpudist -p 185       # trace PID 185 only\n"
                 "    cpudist --json 1 5   # five 1-second histograms as JSON Lines",
                 "cpudist"};
    app.add_flag("-O,--offcpu", options.settings.offcpu, "Measure off-CPU time");
    app.add_flag("-m,--milliseconds", options.settings.milliseconds, "Millisecond histogram");
    auto* per_process =
        app.add_flag("-P,--pids", options.settings.per_process, "Print a histogram per process ID");
    app.add_flag("-L,--tids", options.settings.per_thread, "Print a histogram per thread ID")
        ->excludes(per_process);
    add_pid_option(app, options.filter, "Trace this PID only");
    add_cgroup_option(app, options.filter);
    add_common_options(app, options.common, true);
    add_pacing_options(app, options.pacing);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(cpudist, "on-CPU / off-CPU time of tasks as a histogram", cpudist_main,
               cpudist_hooks);
