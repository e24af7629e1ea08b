// cpudist: on-CPU / off-CPU time histograms, libbpf-tools' cpudist with its flags and output,
// plus --json, cgroup v2 filtering in the kernel, and every on-CPU slice counted.
#include "cpudist.skel.h"
#include "cpudist.h"

#include "coretrace/clock.hpp"
#include "coretrace/histogram.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/map.hpp"
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

// raw_tp first: it costs the same per switch as tp_btf here (the same CO-RE reads), while a
// tp_btf program makes libbpf parse the whole kernel BTF to find its attach point (~17 ms
// and ~11 MiB more at every start, measured here). tp_btf stays for kernels without raw_tp.
constexpr std::string_view switch_sections[] = {"raw_tp/sched_switch", "tp_btf/sched_switch"};
constexpr hooks::EventHooks cpudist_hooks[] = {{"sched_switch", switch_sections}};

struct Options {
    CommonOptions common;
    bool offcpu = false, milliseconds = false, per_process = false, per_thread = false;
    pid_t pid = 0;
    std::string cgroup;
    long interval_s = 0;
    long count = 0;
};

void report(const Options& options, HashMap<std::uint32_t, cpudist_hist>& hists) {
    const char* unit = options.milliseconds ? "msecs" : "usecs";
    auto items = hists.items();
    for (const auto& [key, hist] : items) // exactly what was read: one walk of the map
        hists.erase(key);
    std::sort(items.begin(), items.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });

    if (options.common.json) {
        auto histograms = nlohmann::json::array();
        for (const auto& [key, hist] : items) {
            nlohmann::json entry;
            if (options.per_process || options.per_thread) {
                entry[options.per_process ? "pid" : "tid"] = key;
                entry["comm"] = std::string(hist.comm, strnlen(hist.comm, sizeof(hist.comm)));
            }
            entry["count"] = hist_total(hist.slots);
            entry["buckets"] = log2_hist_json(hist.slots, unit);
            histograms.push_back(std::move(entry));
        }
        emit_json_line(nlohmann::json{{"time_unix_ns", unix_time_ns()},
                                      {"mode", options.offcpu ? "off-cpu" : "on-cpu"},
                                      {"unit", unit},
                                      {"histograms", std::move(histograms)}}
                           .dump());
        return;
    }
    std::string out = "\n";
    if (options.common.timestamp)
        out += fmt::format("{:<8}\n", clock_time());
    for (const auto& [key, hist] : items) {
        if (options.per_process || options.per_thread)
            out += fmt::format("\n{} = {} {}\n", options.per_process ? "pid" : "tid", key,
                               std::string(hist.comm, strnlen(hist.comm, sizeof(hist.comm))));
        out += format_log2_hist(hist.slots, unit);
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(const Options& options) {
    sys::require_bpf_privileges();
    TaskFilter filter;
    filter.tgid = options.pid;
    filter.cgroup_path = options.cgroup;
    filter.validate();
    StopSignals stop;

    auto skel = Skeleton<cpudist_bpf>::open();
    hooks::prefer(skel.object(), cpudist_hooks[0]);
    filter.configure(skel->rodata);
    skel->rodata->targ_offcpu = options.offcpu;
    skel->rodata->targ_per_process = options.per_process;
    skel->rodata->targ_per_thread = options.per_thread;
    skel->rodata->targ_ms = options.milliseconds;
    const auto pid_max = static_cast<std::uint32_t>(sys::pid_max());
    bpf_map__set_max_entries(skel->maps.start, pid_max);
    bpf_map__set_max_entries(skel->maps.hists,
                             options.per_process || options.per_thread ? pid_max : 1);
    skel.load();
    filter.install(skel->maps.ct_cgroup_filter);
    HashMap<std::uint32_t, cpudist_hist> hists(skel->maps.hists);
    skel.attach();

    announce(options.common, fmt::format("Tracing {}-CPU time... Hit Ctrl-C to end.",
                                         options.offcpu ? "off" : "on"));
    Pacing pacing;
    if (options.interval_s)
        pacing.interval = std::chrono::seconds(options.interval_s);
    if (options.count)
        pacing.count = options.count;
    pacing.run(stop, [&] { report(options, hists); });
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
    app.add_flag("-O,--offcpu", options.offcpu, "Measure off-CPU time");
    app.add_flag("-m,--milliseconds", options.milliseconds, "Millisecond histogram");
    auto* per_process =
        app.add_flag("-P,--pids", options.per_process, "Print a histogram per process ID");
    app.add_flag("-L,--tids", options.per_thread, "Print a histogram per thread ID")
        ->excludes(per_process);
    app.add_option("-p,--pid", options.pid, "Trace this PID only")->check(positive_integer);
    app.add_option("-c,--cgroup", options.cgroup, "Trace processes in this cgroup v2 path only");
    add_common_options(app, options.common, true);
    app.add_option("interval", options.interval_s, "Output interval, in seconds")
        ->check(positive_integer);
    app.add_option("count", options.count, "Number of outputs")->check(positive_integer);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(cpudist, "on-CPU / off-CPU time of tasks as a histogram", cpudist_main,
               cpudist_hooks);
