// biolatency: block device I/O latency as log2 histograms, libbpf-tools' biolatency with its
// flags (-Q -D -F -m -d DISK -c CG -T, [interval] [count]) and text output, plus --json.
#include "biolatency_setup.hpp"
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

constexpr auto& biolatency_hooks = biolatency::hook_table;

struct Options {
    CommonOptions common;
    biolatency::Settings settings;
    std::string disk;
    std::string cgroup;
    long interval_s = 0;
    long count = 0;
};

void report(const Options& options, HashMap<biolatency_key, biolatency_hist>& hists,
            block::DiskNames& disks, std::uint64_t dropped) {
    const char* unit = options.settings.milliseconds ? "msecs" : "usecs";
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
            if (options.settings.per_disk)
                entry["disk"] = disks(key.dev);
            if (options.settings.per_flag) {
                entry["flags"] = block::flags_text(key.flags);
                entry["op"] = block::direction(key.flags);
            }
            entry["count"] = hist_total(hist.slots);
            entry["buckets"] = log2_hist_json(hist.slots, unit);
            histograms.push_back(std::move(entry));
        }
        emit_json_line(nlohmann::json{{"time_unix_ns", unix_time_ns()},
                                      {"unit", unit},
                                      {"queued", options.settings.queued},
                                      {"untracked_requests", dropped},
                                      {"histograms", std::move(histograms)}}
                           .dump());
        return;
    }
    std::string out = "\n";
    if (options.common.timestamp)
        out += fmt::format("{:<8}\n", clock_time());
    for (const auto& [key, hist] : items) {
        if (options.settings.per_disk)
            out += fmt::format("\ndisk = {}\t", disks(key.dev));
        if (options.settings.per_flag)
            out += "flags = " + block::flags_text(key.flags);
        if (options.settings.per_disk || options.settings.per_flag)
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
    biolatency::Settings settings = options.settings;
    settings.dev = options.disk.empty() ? 0 : block::disk_dev(options.disk);
    block::DiskNames disks;
    StopSignals stop;

    auto skel = biolatency::start(settings, filter);
    HashMap<biolatency_key, biolatency_hist> hists(skel->maps.hists);

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
    app.add_flag("-m,--milliseconds", options.settings.milliseconds, "Millisecond histogram");
    app.add_flag("-Q,--queued", options.settings.queued, "Include OS queued time in I/O time");
    app.add_flag("-D,--disks", options.settings.per_disk, "Print a histogram per disk device");
    app.add_flag("-F,--flag", options.settings.per_flag, "Print a histogram per set of I/O flags");
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
