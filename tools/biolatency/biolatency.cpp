// biolatency: block device I/O latency as log2 histograms, libbpf-tools' biolatency with its
// flags (-Q -D -F -m -d DISK -c CG -T, [interval] [count]) and text output, plus --json.
#include "biolatency.skel.h"
#include "biolatency.h"
#include "coretrace/block_devices.hpp"

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

// raw_tp first: the same struct request reads as tp_btf, without libbpf parsing the whole kernel
// BTF to find a tp_btf attach point. libbpf-tools uses tp_btf, and classic tracepoints on kernels
// without BTF; these tracepoints' classic form carries no request pointer to pair events by.
constexpr std::string_view insert_sections[] = {"raw_tp/block_rq_insert", "tp_btf/block_rq_insert"};
constexpr std::string_view issue_sections[] = {"raw_tp/block_rq_issue", "tp_btf/block_rq_issue"};
constexpr std::string_view complete_sections[] = {"raw_tp/block_rq_complete",
                                                  "tp_btf/block_rq_complete"};
constexpr hooks::EventHooks biolatency_hooks[] = {
    {"block_rq_insert (-Q)", insert_sections},
    {"block_rq_issue", issue_sections},
    {"block_rq_complete", complete_sections},
};

struct Options {
    CommonOptions common;
    bool queued = false, per_disk = false, per_flag = false, milliseconds = false;
    std::string disk;
    std::string cgroup;
    long interval_s = 0;
    long count = 0;
};

void report(const Options& options, HashMap<biolatency_key, biolatency_hist>& hists,
            block::DiskNames& disks, std::uint64_t dropped) {
    const char* unit = options.milliseconds ? "msecs" : "usecs";
    auto items = hists.items();
    for (const auto& [key, hist] : items)
        hists.erase(key);
    std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
        return std::tie(a.first.dev, a.first.flags) < std::tie(b.first.dev, b.first.flags);
    });

    if (options.common.json) {
        auto histograms = nlohmann::json::array();
        for (const auto& [key, hist] : items) {
            nlohmann::json entry;
            if (options.per_disk)
                entry["disk"] = disks(key.dev);
            if (options.per_flag) {
                entry["flags"] = block::flags_text(key.flags);
                entry["op"] = block::direction(key.flags);
            }
            entry["count"] = hist_total(hist.slots);
            entry["buckets"] = log2_hist_json(hist.slots, unit);
            histograms.push_back(std::move(entry));
        }
        emit_json_line(nlohmann::json{{"time_unix_ns", unix_time_ns()},
                                      {"unit", unit},
                                      {"queued", options.queued},
                                      {"untracked_requests", dropped},
                                      {"histograms", std::move(histograms)}}
                           .dump());
        return;
    }
    std::string out = "\n";
    if (options.common.timestamp)
        out += fmt::format("{:<8}\n", clock_time());
    for (const auto& [key, hist] : items) {
        if (options.per_disk)
            out += fmt::format("\ndisk = {}\t", disks(key.dev));
        if (options.per_flag)
            out += "flags = " + block::flags_text(key.flags);
        if (options.per_disk || options.per_flag)
            out += "\n";
        out += format_log2_hist(hist.slots, unit);
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(const Options& options) {
    sys::require_bpf_privileges();
    TaskFilter filter;
    filter.cgroup_path = options.cgroup;
    filter.validate();
    const std::uint32_t dev = options.disk.empty() ? 0 : block::disk_dev(options.disk);
    block::DiskNames disks;
    StopSignals stop;

    auto skel = Skeleton<biolatency_bpf>::open();
    if (options.queued)
        hooks::prefer(skel.object(), biolatency_hooks[0]);
    else
        hooks::skip(skel.object(), biolatency_hooks[0]);
    hooks::prefer(skel.object(), biolatency_hooks[1]);
    hooks::prefer(skel.object(), biolatency_hooks[2]);
    filter.configure(skel->rodata);
    skel->rodata->targ_queued = options.queued;
    skel->rodata->targ_per_disk = options.per_disk;
    skel->rodata->targ_per_flag = options.per_flag;
    skel->rodata->targ_ms = options.milliseconds;
    skel->rodata->targ_dev = dev;
    skel.load();
    filter.install(skel->maps.ct_cgroup_filter);
    HashMap<biolatency_key, biolatency_hist> hists(skel->maps.hists);
    skel.attach();

    announce(options.common, "Tracing block device I/O... Hit Ctrl-C to end.");
    Pacing pacing;
    if (options.interval_s)
        pacing.interval = std::chrono::seconds(options.interval_s);
    if (options.count)
        pacing.count = options.count;
    pacing.run(stop, [&] { report(options, hists, disks, skel->bss->starts_dropped); });
    if (skel->bss->starts_dropped)
        std::fprintf(stderr, "%llu requests not timed: start map full\n",
                     static_cast<unsigned long long>(skel->bss->starts_dropped));
    return 0;
}

int biolatency_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Summarize block device I/O latency as a histogram.\n"
                 "Latency runs from issue to the device to completion (-Q: from insertion into\n"
                 "the I/O scheduler's queue; a request issued directly, without a scheduler\n"
                 "queue, counts from its issue). -c tests the task that queues or issues a\n"
                 "request, which is not always the task that asked for the I/O.\n\n"
                 "USAGE: biolatency [--help] [-T] [-m] [-Q] [-D] [-F] [-d DISK] [-c CG] [--json]\n"
                 "                  [interval] [count]\n\n"
                 "EXAMPLES:\n"
                 "    biolatency              # summarize block I/O latency as a histogram\n"
                 "    biolatency 1 10         # print 1 second summaries, 10 times\n"
                 "    biolatency -mT 1        # 1s summaries, milliseconds, and timestamps\n"
                 "    biolatency -Q           # include OS queued time in I/O time\n"
                 "    biolatency -D           # show each disk device separately\n"
                 "    biolatency -F           # show I/O flags separately\n"
                 "    biolatency -d sdc       # Trace sdc only\n"
                 "    biolatency -c CG        # Trace process under cgroupsPath CG\n"
                 "    biolatency --json -D 1 5  # five 1-second histograms per disk as JSON Lines",
                 "biolatency"};
    app.add_flag("-m,--milliseconds", options.milliseconds, "Millisecond histogram");
    app.add_flag("-Q,--queued", options.queued, "Include OS queued time in I/O time");
    app.add_flag("-D,--disks", options.per_disk, "Print a histogram per disk device");
    app.add_flag("-F,--flag", options.per_flag, "Print a histogram per set of I/O flags");
    app.add_option("-d,--disk", options.disk, "Trace this disk only")
        ->check(bounded_text(31, "a disk name has at most 31 characters"));
    app.add_option("-c,--cgroup", options.cgroup, "Trace processes in this cgroup v2 path only");
    add_common_options(app, options.common, true);
    app.add_option("interval", options.interval_s, "Output interval, in seconds")
        ->check(positive_integer);
    app.add_option("count", options.count, "Number of outputs")->check(positive_integer);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(biolatency, "block device I/O latency as a histogram", biolatency_main,
               biolatency_hooks);
