// profile: CPU usage by stack sampling, libbpf-tools' profile with its flags and output, plus a
// flame graph drawn here (--svg FILE), -d DURATION and --json. Stacks are symbolized by the
// library's symbolizer, which reads each process's mappings the first time the process is
// sampled, so processes that exit before the end still have named frames.
#include "profile.skel.h"
#include "profile.h"
#include "coretrace/error.hpp"
#include "coretrace/log.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/map.hpp"
#include "coretrace/perf_event.hpp"
#include "coretrace/process_watch.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/stack_report.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace {

using namespace coretrace;

constexpr std::string_view sample_sections[] = {"perf_event"};
constexpr hooks::EventHooks profile_hooks[] = {{"cpu-clock sample", sample_sections}};

struct Options {
    CommonOptions common;
    TaskFilter filter;
    bool user_only = false, kernel_only = false;
    bool delimited = false, annotations = false, include_idle = false;
    long frequency = 49;
    long cpu = -1;
    stacks::StackToolOptions stack;
};

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    std::vector<int> cpus = perf::online_cpus();
    if (options.cpu >= 0) {
        if (std::find(cpus.begin(), cpus.end(), options.cpu) == cpus.end())
            throw Error(fmt::format("-C {}: no such online CPU", options.cpu));
        cpus = {static_cast<int>(options.cpu)};
    }
    stacks::check_svg_path(options.stack.svg);
    StopSignals stop;
    auto events = perf::PerCpuEvents::open(
        perf::EventSpec::cpu_clock(static_cast<std::uint64_t>(options.frequency)), cpus);

    auto skel = Skeleton<profile_bpf>::open();
    bpf_program* sample = hooks::prefer(skel.object(), profile_hooks[0]);
    EventStream::prepare(skel, ring_bytes_for_sparse_events);
    options.filter.configure(skel->rodata);
    skel->rodata->include_idle = options.include_idle;
    skel->rodata->user_stacks = !options.kernel_only;
    skel->rodata->kernel_stacks = !options.user_only;
    const auto storage = static_cast<std::uint32_t>(options.stack.storage);
    bpf_map__set_max_entries(skel->maps.ct_stacks, storage);
    bpf_map__set_max_entries(skel->maps.counts, storage);
    skel.load();
    options.filter.install(skel->maps.ct_cgroup_filter);

    symbols::Symbolizer symbolizer;
    ProcessWatch watch(skel, symbolizer);
    events.attach(sample);
    // Folded lines are data for other tools: the banner goes to stderr, as with --json.
    CommonOptions banner = options.common;
    banner.json = banner.json || options.stack.folded;
    announce(banner, fmt::format("Sampling at {} Hz of {}... Hit Ctrl-C to end.", options.frequency,
                                 options.filter.tgid ? fmt::format("PID {}", options.filter.tgid)
                                                     : std::string("all threads")));
    pump_events(watch.stream(), stop, std::chrono::seconds(options.stack.duration_s));
    events.detach();
    watch.stream().drain();

    HashMap<profile_key, std::uint64_t> counts(skel->maps.counts);
    std::vector<stacks::CountedStack> samples;
    std::uint64_t total = 0;
    for (const auto& [key, count] : counts.items()) {
        const auto tgid = static_cast<pid_t>(key.tgid);
        samples.push_back(
            {fixed_string(key.comm), tgid, tgid, key.kern_stack_id, key.user_stack_id, count});
        total += count;
    }
    const std::size_t unique = samples.size();
    stacks::print_stacks(std::move(samples), symbolizer, bpf_map__fd(skel->maps.ct_stacks),
                         {options.common.json, options.stack.folded, options.delimited,
                          options.annotations, options.stack.svg,
                          fmt::format("CPU profile: {} Hz", options.frequency), "samples",
                          "count"});

    const std::uint64_t dropped = skel->bss->samples_dropped, missed = skel->bss->ct_stacks_missed;
    stacks::report_losses(dropped, "samples", missed, options.stack.storage);
    const auto& stats = symbolizer.stats();
    log::debug("symbolized {} user frames ({} unknown) and {} kernel frames ({} unknown)",
               stats.user_frames, stats.user_unknown, stats.kernel_frames, stats.kernel_unknown);
    if (options.common.json) {
        nlohmann::json summary{{"samples", total},
                               {"stacks", unique},
                               {"samples_dropped", dropped},
                               {"stacks_missed", missed}};
        stacks::add_frame_counts(summary, stats);
        emit_json_line(nlohmann::json{{"summary", summary}}.dump());
    }
    return 0;
}

int profile_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Profile CPU usage by sampling stack traces at a timed interval: a cpu-clock timer fires\n"
        "FREQUENCY times a second on each CPU and counts the user and kernel stack of the task\n"
        "running there. Stacks are printed most frequent first, or folded (-f) for flame graph\n"
        "tools, or drawn as a flame graph (--svg FILE, a standalone SVG for a browser).\n\n"
        "USAGE: profile [--help] [-p PID | -L TID] [-U | -K] [-F FREQUENCY] [-f] [--svg FILE]\n"
        "               [-d DURATION] [--json] [duration]\n\n"
        "EXAMPLES:\n"
        "    profile             # profile stack traces at 49 Hz until Ctrl-C\n"
        "    profile -F 99       # profile stack traces at 99 Hz\n"
        "    profile 5           # profile at 49 Hz for 5 seconds only\n"
        "    profile -f 5        # output in folded format for flame graphs\n"
        "    profile -d 5 --svg cpu.svg  # 5 seconds, drawn as a flame graph in cpu.svg\n"
        "    profile -p 185      # only profile process with PID 185\n"
        "    profile -L 185      # only profile thread with TID 185\n"
        "    profile -U          # only show user space stacks (no kernel)\n"
        "    profile -K          # only show kernel space stacks (no user)",
        "profile"};
    add_pid_option(app, options.filter, "Profile process with this PID only");
    add_tid_option(app, options.filter, "-L,--tid", "Profile thread with this TID only");
    add_cgroup_option(app, options.filter, "Profile processes in this cgroup v2 path only");
    auto* user = app.add_flag("-U,--user-stacks-only", options.user_only,
                              "Show stacks from user space only (no kernel space stacks)");
    app.add_flag("-K,--kernel-stacks-only", options.kernel_only,
                 "Show stacks from kernel space only (no user space stacks)")
        ->excludes(user);
    app.add_option("-F,--frequency", options.frequency, "Sample frequency in Hz (default 49)")
        ->check(positive_integer);
    app.add_flag("--delimited", options.delimited,
                 "Insert a delimiter between kernel and user stacks");
    app.add_flag("-a,--annotations", options.annotations, "Add _[k] annotations to kernel frames");
    app.add_flag("-I,--include-idle", options.include_idle, "Include CPU idle stacks");
    app.add_option("-C,--cpu", options.cpu, "CPU number to run profile on")
        ->check(CLI::NonNegativeNumber);
    stacks::add_stack_tool_options(app, options.stack);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(profile, "CPU usage by stack sampling, as stacks, folded lines or a flame graph",
               profile_main, profile_hooks);
