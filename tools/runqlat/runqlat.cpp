// runqlat: run queue (scheduler) latency histograms, libbpf-tools' runqlat with its flags and
// output, plus --json and cgroup v2 filtering that follows the task woken, not its waker.
#include "runqlat.skel.h"
#include "runqlat.h"

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

// raw_tp first, as cpudist: the same CO-RE reads per event, without the whole-kernel-BTF parse
// (~17 ms at start) that a tp_btf program costs. tp_btf stays for kernels without raw_tp.
constexpr std::string_view wakeup_sections[] = {"raw_tp/sched_wakeup", "tp_btf/sched_wakeup"};
constexpr std::string_view wakeup_new_sections[] = {"raw_tp/sched_wakeup_new",
                                                    "tp_btf/sched_wakeup_new"};
constexpr std::string_view switch_sections[] = {"raw_tp/sched_switch", "tp_btf/sched_switch"};
constexpr hooks::EventHooks runqlat_hooks[] = {{"sched_wakeup", wakeup_sections},
                                               {"sched_wakeup_new", wakeup_new_sections},
                                               {"sched_switch", switch_sections}};

struct Options {
    CommonOptions common;
    bool milliseconds = false, per_process = false, per_thread = false, per_pidns = false;
    TaskFilter filter;
    Pacing pacing;

    // The name of a histogram's key in text and JSON, or nullptr for the single histogram.
    const char* key_name() const {
        return per_process ? "pid" : per_thread ? "tid" : per_pidns ? "pidns" : nullptr;
    }
};

void report(const Options& options, HashMap<std::uint32_t, runqlat_hist>& hists) {
    const char* unit = options.milliseconds ? "msecs" : "usecs";
    const char* key_name = options.key_name();
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

    auto skel = Skeleton<runqlat_bpf>::open();
    for (const auto& event : runqlat_hooks)
        hooks::prefer(skel.object(), event);
    options.filter.configure(skel->rodata);
    skel->rodata->targ_per_process = options.per_process;
    skel->rodata->targ_per_thread = options.per_thread;
    skel->rodata->targ_per_pidns = options.per_pidns;
    skel->rodata->targ_ms = options.milliseconds;
    const auto pid_max = static_cast<std::uint32_t>(sys::pid_max());
    bpf_map__set_max_entries(skel->maps.ct_runq_start, pid_max);
    bpf_map__set_max_entries(skel->maps.cg_members,
                             options.filter.cgroup_path.empty() ? 1 : pid_max);
    bpf_map__set_max_entries(skel->maps.hists, options.key_name() ? pid_max : 1);
    skel.load();
    options.filter.install(skel->maps.ct_cgroup_filter);
    HashMap<std::uint32_t, runqlat_hist> hists(skel->maps.hists);
    skel.attach();

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
    app.add_flag("-m,--milliseconds", options.milliseconds, "Millisecond histogram");
    auto* per_pidns =
        app.add_flag("--pidnss", options.per_pidns, "Print a histogram per PID namespace");
    auto* per_process =
        app.add_flag("-P,--pids", options.per_process, "Print a histogram per process ID")
            ->excludes(per_pidns);
    app.add_flag("-L,--tids", options.per_thread, "Print a histogram per thread ID")
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
