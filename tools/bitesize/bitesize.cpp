// bitesize: block request sizes per process name as histograms, libbpf-tools' bitesize with its
// flags (-c COMM, -d DISK, -T, [interval] [count]) and text output, plus --json.
#include "bitesize.skel.h"
#include "bitesize.h"
#include "coretrace/block_devices.hpp"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/histogram.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/log.hpp"
#include "coretrace/map.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace {

using namespace coretrace;

constexpr std::string_view start_sections[] = {"raw_tp/block_io_start", "tp_btf/block_io_start"};
constexpr std::string_view issue_sections[] = {"raw_tp/block_rq_issue", "tp_btf/block_rq_issue"};
constexpr hooks::EventHooks bitesize_hooks[] = {
    {"block_io_start", start_sections, /*optional=*/true},
    {"block_rq_issue", issue_sections},
};

struct Options {
    CommonOptions common;
    std::string comm;
    std::string disk;
    long interval_s = 0;
    long count = 0;
};

void report(const Options& options, HashMap<bitesize_key, bitesize_hist>& hists) {
    auto items = hists.items();
    for (const auto& [key, hist] : items)
        hists.erase(key);
    std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
        return std::strncmp(a.first.comm, b.first.comm, BLOCK_COMM_LEN) < 0;
    });

    if (options.common.json) {
        auto histograms = nlohmann::json::array();
        for (const auto& [key, hist] : items)
            histograms.push_back({{"comm", fixed_string(key.comm)},
                                  {"count", hist_total(hist.slots)},
                                  {"bytes", hist.bytes},
                                  {"buckets", log2_hist_json(hist.slots, "kbytes")}});
        emit_json_line(nlohmann::json{{"time_unix_ns", unix_time_ns()},
                                      {"unit", "kbytes"},
                                      {"histograms", std::move(histograms)}}
                           .dump());
        return;
    }
    std::string out = "\n";
    if (options.common.timestamp)
        out += fmt::format("{:<8}\n", clock_time());
    for (const auto& [key, hist] : items) {
        out += fmt::format("\nProcess Name = {}\n", fixed_string(key.comm));
        out += format_log2_hist(hist.slots, "Kbytes");
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(const Options& options) {
    sys::require_bpf_privileges();
    const std::uint32_t dev = options.disk.empty() ? 0 : block::disk_dev(options.disk);
    StopSignals stop;

    auto skel = Skeleton<bitesize_bpf>::open();
    try {
        hooks::prefer(skel.object(), bitesize_hooks[0]);
    } catch (const Error& e) {
        hooks::skip(skel.object(), bitesize_hooks[0]);
        log::debug("block_io_start: not traced, names are those current at issue: {}", e.what());
    }
    hooks::prefer(skel.object(), bitesize_hooks[1]);
    std::memcpy(const_cast<char*>(skel->rodata->targ_comm), options.comm.data(),
                options.comm.size());
    skel->rodata->targ_comm_len = static_cast<__u32>(options.comm.size());
    skel->rodata->targ_dev = dev;
    skel.load();
    HashMap<bitesize_key, bitesize_hist> hists(skel->maps.hists);
    skel.attach();

    announce(options.common, "Tracing block device I/O... Hit Ctrl-C to end.");
    Pacing pacing;
    if (options.interval_s)
        pacing.interval = std::chrono::seconds(options.interval_s);
    if (options.count)
        pacing.count = options.count;
    pacing.run(stop, [&] { report(options, hists); });
    return 0;
}

int bitesize_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Summarize block device I/O size as a histogram, per process name.\n"
                 "A request is counted as it is issued to the driver, under the name of the\n"
                 "task that began it (Linux 6.5 and later; before, the task current at the\n"
                 "issue, which can be a kernel worker).\n\n"
                 "USAGE: bitesize [--help] [-T] [-c COMM] [-d DISK] [--json] [interval] [count]\n\n"
                 "EXAMPLES:\n"
                 "    bitesize              # summarize block I/O size as a histogram\n"
                 "    bitesize 1 10         # print 1 second summaries, 10 times\n"
                 "    bitesize -T 1         # 1s summaries with timestamps\n"
                 "    bitesize -c fio       # trace fio only (names starting with fio)\n"
                 "    bitesize -d vda       # trace vda only",
                 "bitesize"};
    app.add_option("-c,--comm", options.comm, "Trace process names starting with this only")
        ->check(bounded_text(BLOCK_COMM_LEN - 1, "a command name has at most 15 characters"));
    app.add_option("-d,--disk", options.disk, "Trace this disk only")
        ->check(bounded_text(31, "a disk name has at most 31 characters"));
    add_common_options(app, options.common, true);
    app.add_option("interval", options.interval_s, "Output interval, in seconds")
        ->check(positive_integer);
    app.add_option("count", options.count, "Number of outputs")->check(positive_integer);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(bitesize, "block device I/O size per process name as a histogram", bitesize_main,
               bitesize_hooks);
