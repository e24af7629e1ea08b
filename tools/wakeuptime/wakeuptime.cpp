// wakeuptime: the time threads spent blocked, by the kernel stack of the thread that woke them,
// libbpf-tools' wakeuptime with its flags and output, plus folded lines, a flame graph drawn here
// (--svg FILE) and --json.
#include "wakeuptime.skel.h"
#include "wakeuptime.h"
#include "coretrace/error.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/map.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/stack_report.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>

namespace {

using namespace coretrace;

constexpr std::string_view switch_sections[] = {"raw_tp/sched_switch", "tp_btf/sched_switch"};
constexpr std::string_view wakeup_sections[] = {"raw_tp/sched_wakeup", "tp_btf/sched_wakeup"};
constexpr hooks::EventHooks wakeuptime_hooks[] = {{"sched_switch", switch_sections},
                                                  {"sched_wakeup", wakeup_sections}};

struct Options {
    CommonOptions common;
    TaskFilter filter;
    bool user_threads = false;
    long min_us = 1, max_us = 0;
    stacks::StackToolOptions stack;
};

struct Woken {
    wakeuptime_key key;
    std::uint64_t us;
};

void print(const Options& options, std::vector<Woken>& woken, int stacks_fd) {
    std::sort(woken.begin(), woken.end(),
              [](const Woken& a, const Woken& b) { return a.us > b.us; });
    symbols::Symbolizer symbolizer;
    std::vector<flame::Stack> flames;
    std::string text;
    for (const auto& [key, us] : woken) {
        const auto stack = stacks::symbolize(
            symbolizer, stacks_fd, static_cast<pid_t>(key.waker_tgid), key.waker_stack_id, -1);
        const std::string target = fixed_string(key.target), waker = fixed_string(key.waker);
        if (options.common.json)
            emit_json_line(nlohmann::json{{"target", target},
                                          {"waker", waker},
                                          {"waker_pid", key.waker_tgid},
                                          {"total_us", us},
                                          {"waker_kernel_stack", stacks::frames_json(stack.kernel)},
                                          {"waker_kernel_stack_missed", stack.kernel_missed}}
                               .dump());
        else if (!options.stack.folded)
            text += fmt::format("    {:<16} {}\n{}    {:<16} {}\n        {}\n\n", "target:", target,
                                stacks::text_frames(stack, false), "waker:", waker, us);
        if (options.stack.folded || !options.stack.svg.empty()) {
            // The blocked thread at the root, then the waker's stack, then the waker.
            auto flame = stacks::flame_stack(target, stack, us);
            flame.frames.push_back({waker, flame::FrameKind::other});
            flames.push_back(std::move(flame));
        }
    }
    if (options.stack.folded)
        text = flame::folded(flames);
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    if (!options.stack.svg.empty()) {
        std::ofstream out(options.stack.svg, std::ios::trunc);
        flame::write_svg(out, flames, {"Wakeup time: blocked thread, waker's stack, waker", "us"});
        if (!out)
            throw Error(
                fmt::format("--svg {}: could not write the flame graph", options.stack.svg));
    }
}

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    if (options.max_us && options.max_us < options.min_us)
        throw Error(fmt::format("-M {} is below -m {}", options.max_us, options.min_us));
    stacks::check_svg_path(options.stack.svg);
    StopSignals stop;

    auto skel = Skeleton<wakeuptime_bpf>::open();
    for (const auto& event : wakeuptime_hooks)
        hooks::prefer(skel.object(), event);
    options.filter.configure(skel->rodata);
    skel->rodata->user_threads_only = options.user_threads;
    skel->rodata->min_block_ns = static_cast<__u64>(options.min_us) * 1000;
    skel->rodata->max_block_ns =
        options.max_us ? static_cast<__u64>(options.max_us) * 1000 : ~__u64{0};
    const auto storage = static_cast<std::uint32_t>(options.stack.storage);
    bpf_map__set_max_entries(skel->maps.ct_stacks, storage);
    bpf_map__set_max_entries(skel->maps.totals, storage);
    skel.load();
    options.filter.install(skel->maps.ct_cgroup_filter);
    skel.attach();
    // Folded lines are data for other tools: the banner goes to stderr, as with --json.
    CommonOptions banner = options.common;
    banner.json = banner.json || options.stack.folded;
    announce(banner, "Tracing blocked time (us) by kernel waker stack... Hit Ctrl-C to end.");
    stop.wait_for(options.stack.duration_s
                      ? std::chrono::milliseconds(options.stack.duration_s * 1000)
                      : std::chrono::milliseconds::max());
    skel.detach();

    HashMap<wakeuptime_key, std::uint64_t> totals(skel->maps.totals);
    std::vector<Woken> woken;
    std::uint64_t total_us = 0;
    for (const auto& [key, us] : totals.items()) {
        woken.push_back({key, us});
        total_us += us;
    }
    const std::size_t unique = woken.size();
    print(options, woken, bpf_map__fd(skel->maps.ct_stacks));

    const std::uint64_t starts = skel->bss->starts_dropped, dropped = skel->bss->totals_dropped,
                        missed = skel->bss->ct_stacks_missed;
    if (starts)
        fmt::print(stderr, "{} blocks not followed: the table of blocked threads was full\n",
                   starts);
    stacks::report_losses(dropped, "wakeups", missed, options.stack.storage);
    if (options.common.json)
        emit_json_line(nlohmann::json{{"summary",
                                       {{"total_us", total_us},
                                        {"stacks", unique},
                                        {"blocks_not_followed", starts},
                                        {"wakeups_dropped", dropped},
                                        {"stacks_missed", missed}}}}
                           .dump());
    return 0;
}

int wakeuptime_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Summarize sleep to wakeup time by waker kernel stack: for each thread that blocked and\n"
        "was woken, the time it was blocked, in microseconds, by the name and kernel stack of\n"
        "the thread that woke it (for a wakeup from an interrupt, the thread it interrupted).\n\n"
        "USAGE: wakeuptime [--help] [-p PID | -t TID | -u] [-m MIN] [-M MAX] [-f] [--svg FILE]\n"
        "                  [-d DURATION] [--json] [duration]\n\n"
        "EXAMPLES:\n"
        "    wakeuptime             # trace blocked time with waker stacks\n"
        "    wakeuptime 5           # trace for 5 seconds only\n"
        "    wakeuptime -u          # don't include kernel threads (user only)\n"
        "    wakeuptime -p 185      # trace for PID 185 only\n"
        "    wakeuptime -m 1000     # only blocks of more than 1000 usec\n"
        "    wakeuptime -f 5        # folded output for a flame graph",
        "wakeuptime"};
    add_pid_option(app, options.filter, "Trace this PID only (the blocked threads')");
    add_tid_option(app, options.filter, "-t,--tid", "Trace this TID only");
    add_cgroup_option(app, options.filter);
    app.add_flag("-u,--user-threads-only", options.user_threads,
                 "User threads only (no kernel threads)");
    app.add_option("-m,--min-block-time", options.min_us,
                   "The amount of time in microseconds over which we store traces (default 1)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("-M,--max-block-time", options.max_us,
                   "The amount of time in microseconds under which we store traces (default "
                   "no limit)")
        ->check(positive_integer);
    stacks::add_stack_tool_options(app, options.stack);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(wakeuptime, "blocked time by the kernel stack of the waker", wakeuptime_main,
               wakeuptime_hooks);
