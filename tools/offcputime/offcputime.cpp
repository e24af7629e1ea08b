// offcputime: where threads spend their time off the CPU, by stack, libbpf-tools' offcputime with
// its flags and output, plus a flame graph drawn here (--svg FILE), -d DURATION and --json.
#include "offcputime.skel.h"
#include "offcputime.h"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/map.hpp"
#include "coretrace/process_watch.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/stack_report.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace {

using namespace coretrace;

constexpr std::string_view switch_sections[] = {"raw_tp/sched_switch", "tp_btf/sched_switch"};
constexpr hooks::EventHooks offcputime_hooks[] = {{"sched_switch", switch_sections}};

struct Options {
    CommonOptions common;
    TaskFilter filter;
    bool user_threads = false, kernel_threads = false;
    bool user_only = false, kernel_only = false;
    bool delimited = false;
    long min_us = 1, max_us = 0;
    long state = -1;
    stacks::StackToolOptions stack;
};

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    if (options.max_us && options.max_us < options.min_us)
        throw Error(fmt::format("-M {} is below -m {}", options.max_us, options.min_us));
    stacks::check_svg_path(options.stack.svg);
    StopSignals stop;

    auto skel = Skeleton<offcputime_bpf>::open();
    hooks::prefer(skel.object(), offcputime_hooks[0]);
    EventStream::prepare(skel, ring_bytes_for_sparse_events);
    options.filter.configure(skel->rodata);
    skel->rodata->user_threads_only = options.user_threads;
    skel->rodata->kernel_threads_only = options.kernel_threads;
    skel->rodata->user_stacks = !options.kernel_only;
    skel->rodata->kernel_stacks = !options.user_only;
    skel->rodata->min_block_ns = static_cast<__u64>(options.min_us) * 1000;
    skel->rodata->max_block_ns =
        options.max_us ? static_cast<__u64>(options.max_us) * 1000 : ~__u64{0};
    skel->rodata->targ_state = options.state;
    const auto storage = static_cast<std::uint32_t>(options.stack.storage);
    bpf_map__set_max_entries(skel->maps.ct_stacks, storage);
    bpf_map__set_max_entries(skel->maps.totals, storage);
    skel.load();
    options.filter.install(skel->maps.ct_cgroup_filter);

    symbols::Symbolizer symbolizer;
    ProcessWatch watch(skel, symbolizer);
    skel.attach();
    // Folded lines are data for other tools: the banner goes to stderr, as with --json.
    CommonOptions banner = options.common;
    banner.json = banner.json || options.stack.folded;
    announce(banner, "Tracing off-CPU time (us) of all threads by user + kernel stack... "
                     "Hit Ctrl-C to end.");
    pump_events(watch.stream(), stop, std::chrono::seconds(options.stack.duration_s));
    skel.detach();
    watch.stream().drain();

    HashMap<offcputime_key, std::uint64_t> totals(skel->maps.totals);
    std::vector<stacks::CountedStack> blocked;
    std::uint64_t total_us = 0;
    for (const auto& [key, us] : totals.items()) {
        blocked.push_back({fixed_string(key.comm), static_cast<pid_t>(key.tid),
                           static_cast<pid_t>(key.tgid), key.kern_stack_id, key.user_stack_id, us});
        total_us += us;
    }
    const std::size_t unique = blocked.size();
    stacks::print_stacks(std::move(blocked), symbolizer, bpf_map__fd(skel->maps.ct_stacks),
                         {options.common.json, options.stack.folded, options.delimited, false,
                          options.stack.svg, "Off-CPU time", "us", "total_us"});

    const std::uint64_t starts = skel->bss->starts_dropped, dropped = skel->bss->totals_dropped,
                        missed = skel->bss->ct_stacks_missed;
    if (starts)
        fmt::print(stderr, "{} blocks not followed: the table of blocked threads was full\n",
                   starts);
    stacks::report_losses(dropped, "blocks", missed, options.stack.storage);
    if (options.common.json) {
        nlohmann::json summary{{"total_us", total_us},
                               {"stacks", unique},
                               {"blocks_not_followed", starts},
                               {"blocks_dropped", dropped},
                               {"stacks_missed", missed}};
        stacks::add_frame_counts(summary, symbolizer.stats());
        emit_json_line(nlohmann::json{{"summary", summary}}.dump());
    }
    return 0;
}

int offcputime_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Summarize off-CPU time by stack trace: the user and kernel stack each thread had when\n"
        "it left the CPU, and the time, in microseconds, until it ran again. Stacks are printed\n"
        "longest total first, or folded (-f), or drawn as a flame graph (--svg FILE).\n\n"
        "USAGE: offcputime [--help] [-p PID | -t TID | -u | -k] [-U | -K] [-m MIN] [-M MAX]\n"
        "                  [--state STATE] [-f] [--svg FILE] [-d DURATION] [--json] [duration]\n\n"
        "EXAMPLES:\n"
        "    offcputime             # trace off-CPU stack time until Ctrl-C\n"
        "    offcputime 5           # trace for 5 seconds only\n"
        "    offcputime -m 1000     # trace only events that last more than 1000 usec\n"
        "    offcputime -M 10000    # trace only events that last less than 10000 usec\n"
        "    offcputime -p 185      # only trace threads for PID 185\n"
        "    offcputime -t 188      # only trace thread 188\n"
        "    offcputime -u          # only trace user threads (no kernel)\n"
        "    offcputime -k          # only trace kernel threads (no user)\n"
        "    offcputime -U          # only show user space stacks (no kernel)\n"
        "    offcputime -K          # only show kernel space stacks (no user)\n"
        "    offcputime -f -d 5 --svg off.svg  # folded, and a flame graph in off.svg",
        "offcputime"};
    add_pid_option(app, options.filter, "Trace this PID only");
    add_tid_option(app, options.filter, "-t,--tid", "Trace this TID only");
    add_cgroup_option(app, options.filter);
    auto* user_threads = app.add_flag("-u,--user-threads-only", options.user_threads,
                                      "User threads only (no kernel threads)");
    app.add_flag("-k,--kernel-threads-only", options.kernel_threads,
                 "Kernel threads only (no user threads)")
        ->excludes(user_threads);
    auto* user = app.add_flag("-U,--user-stacks-only", options.user_only,
                              "Show stacks from user space only (no kernel space stacks)");
    app.add_flag("-K,--kernel-stacks-only", options.kernel_only,
                 "Show stacks from kernel space only (no user space stacks)")
        ->excludes(user);
    app.add_option("-m,--min-block-time", options.min_us,
                   "The amount of time in microseconds over which we store traces (default 1)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("-M,--max-block-time", options.max_us,
                   "The amount of time in microseconds under which we store traces (default "
                   "no limit)")
        ->check(positive_integer);
    app.add_option("--state", options.state,
                   "Filter on this thread state bitmask (eg, 2 == TASK_UNINTERRUPTIBLE), see "
                   "include/linux/sched.h")
        ->check(CLI::NonNegativeNumber);
    app.add_flag("--delimited", options.delimited,
                 "Insert a delimiter between kernel and user stacks");
    stacks::add_stack_tool_options(app, options.stack);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(offcputime, "off-CPU time by stack, as stacks, folded lines or a flame graph",
               offcputime_main, offcputime_hooks);
