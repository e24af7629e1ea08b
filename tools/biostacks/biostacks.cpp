// biostacks: block I/O latency per process, disk and kernel stack at the request's start,
// libbpf-tools' biostacks with its flags (-d DISK, -m, [duration]) and layout, plus --json,
// on tracepoints instead of kprobes.
#include "biostacks.skel.h"
#include "biostacks.h"
#include "coretrace/block_devices.hpp"

#include "coretrace/clock.hpp"
#include "coretrace/histogram.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/map.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/stack_traces.hpp"
#include "coretrace/symbolizer.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

namespace {

using namespace coretrace;

// libbpf-tools' order: the tracepoints of 6.5 where they exist, then fentry or a kprobe on the
// functions they replaced, then the request's issue and completion (6.1 inlines
// blk_account_io_start, so only its end has a function hook there).
constexpr std::string_view start_sections[] = {
    "raw_tp/block_io_start", "tp_btf/block_io_start", "fentry/blk_account_io_start",
    "kprobe/blk_account_io_start", "raw_tp/block_rq_issue"};
constexpr std::string_view done_sections[] = {
    "raw_tp/block_io_done", "tp_btf/block_io_done", "fentry/blk_account_io_done",
    "kprobe/blk_account_io_done", "raw_tp/block_rq_complete"};
constexpr hooks::EventHooks biostacks_hooks[] = {
    {"block_io_start", start_sections},
    {"block_io_done", done_sections},
};

struct Options {
    CommonOptions common;
    std::string disk;
    bool milliseconds = false;
    long duration_s = 0;
};

void report(const Options& options, HashMap<biostacks_key, biostacks_hist>& hists,
            block::DiskNames& disks) {
    const char* unit = options.milliseconds ? "msecs" : "usecs";
    symbols::Symbolizer symbolizer;
    auto items = hists.items();
    auto frames = [&](const biostacks_key& key) {
        const std::size_t depth =
            std::min<std::size_t>(key.stack_bytes / sizeof(__u64), BIOSTACKS_MAX_STACK);
        std::vector<std::string> out;
        for (const auto& frame :
             symbolizer.kernel_stack({key.kern_stack, key.kern_stack + depth})) {
            // The BPF program's and the hook's own frames (tracepoint, fentry trampoline) come
            // first: leave them out, so that the stack starts where the I/O started.
            if (out.empty() && stacks::is_tracing_frame(frame.function))
                continue;
            out.push_back(frame.name_with_offset());
        }
        return out;
    };
    if (options.common.json) {
        auto histograms = nlohmann::json::array();
        for (const auto& [key, hist] : items)
            histograms.push_back({{"comm", fixed_string(key.comm)},
                                  {"pid", key.tgid},
                                  {"disk", disks(key.dev)},
                                  {"stack", frames(key)},
                                  {"count", hist_total(hist.slots)},
                                  {"buckets", log2_hist_json(hist.slots, unit)}});
        emit_json_line(nlohmann::json{
            {"time_unix_ns", unix_time_ns()}, {"unit", unit}, {"histograms", std::move(histograms)}}
                           .dump());
        return;
    }
    std::string out;
    for (const auto& [key, hist] : items) {
        out += fmt::format("{:<14.14} {:<6} {:<7}\n", fixed_string(key.comm), key.tgid,
                           disks(key.dev));
        for (const auto& frame : frames(key))
            out += frame + "\n";
        out += format_log2_hist(hist.slots, unit) + "\n";
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(const Options& options) {
    sys::require_bpf_privileges();
    const std::uint32_t dev = options.disk.empty() ? 0 : block::disk_dev(options.disk);
    block::DiskNames disks;
    StopSignals stop;

    auto skel = Skeleton<biostacks_bpf>::open();
    hooks::prefer(skel.object(), biostacks_hooks[0]);
    hooks::prefer(skel.object(), biostacks_hooks[1]);
    skel->rodata->targ_dev = dev;
    skel->rodata->targ_ms = options.milliseconds;
    skel.load();
    HashMap<biostacks_key, biostacks_hist> hists(skel->maps.hists);
    skel.attach();

    announce(options.common, "Tracing block I/O with init stacks. Hit Ctrl-C to end.");
    Pacing pacing;
    if (options.duration_s) {
        pacing.interval = std::chrono::seconds(options.duration_s);
        pacing.count = 1;
    }
    pacing.run(stop, [&] { report(options, hists, disks); });
    if (skel->bss->requests_dropped)
        std::fprintf(stderr, "%llu requests not timed: start map full\n",
                     static_cast<unsigned long long>(skel->bss->requests_dropped));
    return 0;
}

int biostacks_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Tracing block I/O with init stacks: latency from the start of a request's I/O\n"
                 "accounting to its end, per process, disk and kernel stack at the start.\n"
                 "Needs block_io_start/block_io_done (Linux 6.5 and later).\n\n"
                 "USAGE: biostacks [--help] [-d DISK] [-m] [--json] [duration]\n\n"
                 "EXAMPLES:\n"
                 "    biostacks              # trace block I/O with init stacks.\n"
                 "    biostacks 1            # trace for 1 seconds only\n"
                 "    biostacks -d sdc       # trace sdc only",
                 "biostacks"};
    app.add_option("-d,--disk", options.disk, "Trace this disk only")
        ->check(bounded_text(31, "a disk name has at most 31 characters"));
    app.add_flag("-m,--milliseconds", options.milliseconds, "Millisecond histogram");
    add_common_options(app, options.common, false);
    app.add_option("duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(biostacks, "block I/O latency per kernel stack at the request's start",
               biostacks_main, biostacks_hooks);
