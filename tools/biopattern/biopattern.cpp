// biopattern: per disk, the share of random and sequential block requests, libbpf-tools'
// biopattern with its flags (-d DISK, -T, [interval] [count]) and columns, plus --json.
#include "biopattern.skel.h"
#include "biopattern.h"
#include "coretrace/block_devices.hpp"

#include "coretrace/clock.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/map.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

#include <fmt/format.h>
#include <map>
#include <vector>
#include <nlohmann/json.hpp>

namespace {

using namespace coretrace;

constexpr std::string_view complete_sections[] = {"tp/block/block_rq_complete"};
constexpr hooks::EventHooks biopattern_hooks[] = {{"block_rq_complete", complete_sections}};

struct Options {
    CommonOptions common;
    std::string disk;
    long interval_s = 0;
    long count = 0;
};

using Counters = std::map<std::uint32_t, biopattern_counter>;

// The counters only grow in the kernel: each report prints what grew since the last one, so
// that no request counted while the map is read is lost to a reset.
void report(const Options& options, HashMap<std::uint32_t, biopattern_counter>& counters,
            Counters& previous, block::DiskNames& disks) {
    std::vector<std::pair<std::uint32_t, biopattern_counter>> items;
    for (const auto& [dev, now] : counters.items()) {
        const biopattern_counter before = previous[dev];
        items.push_back({dev, biopattern_counter{now.last_sector, now.bytes - before.bytes,
                                                 now.sequential - before.sequential,
                                                 now.random - before.random}});
        previous[dev] = now;
    }
    if (options.common.json) {
        auto rows = nlohmann::json::array();
        for (const auto& [dev, c] : items) {
            const std::uint64_t total = std::uint64_t{c.sequential} + c.random;
            if (!total)
                continue;
            rows.push_back({{"disk", disks(dev)},
                            {"random", c.random},
                            {"sequential", c.sequential},
                            {"count", total},
                            {"bytes", c.bytes}});
        }
        emit_json_line(
            nlohmann::json{{"time_unix_ns", unix_time_ns()}, {"disks", std::move(rows)}}.dump());
        return;
    }
    std::string out;
    for (const auto& [dev, c] : items) {
        const std::uint64_t total = std::uint64_t{c.sequential} + c.random;
        if (!total)
            continue;
        if (options.common.timestamp)
            out += fmt::format("{:<8} ", clock_time());
        out += fmt::format("{:<7} {:>5} {:>5} {:>8} {:>10}\n", disks(dev), c.random * 100 / total,
                           c.sequential * 100 / total, total, c.bytes / 1024);
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(const Options& options) {
    sys::require_bpf_privileges();
    const std::uint32_t dev = options.disk.empty() ? 0 : block::disk_dev(options.disk);
    block::DiskNames disks;
    StopSignals stop;

    auto skel = Skeleton<biopattern_bpf>::open();
    hooks::prefer(skel.object(), biopattern_hooks[0]);
    skel->rodata->targ_dev = dev;
    skel.load();
    HashMap<std::uint32_t, biopattern_counter> counters(skel->maps.counters);
    skel.attach();

    announce(options.common, "Tracing block device I/O requested seeks... Hit Ctrl-C to end.");
    if (!options.common.json) {
        if (options.common.timestamp)
            std::printf("%-8s ", "TIME");
        std::printf("%-7s %5s %5s %8s %10s\n", "DISK", "%RND", "%SEQ", "COUNT", "KBYTES");
        std::fflush(stdout);
    }
    Pacing pacing;
    if (options.interval_s)
        pacing.interval = std::chrono::seconds(options.interval_s);
    if (options.count)
        pacing.count = options.count;
    Counters previous;
    pacing.run(stop, [&] { report(options, counters, previous, disks); });
    return 0;
}

int biopattern_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Show block device I/O pattern: per disk, the share of requests that began\n"
                 "where the previous one on that disk ended (sequential) or elsewhere (random),\n"
                 "counted as they complete. Requests without data (cache flushes) are left out.\n\n"
                 "USAGE: biopattern [--help] [-T] [-d DISK] [--json] [interval] [count]\n\n"
                 "EXAMPLES:\n"
                 "    biopattern              # show block I/O pattern\n"
                 "    biopattern 1 10         # print 1 second summaries, 10 times\n"
                 "    biopattern -T 1         # 1s summaries with timestamps\n"
                 "    biopattern -d sdc       # trace sdc only",
                 "biopattern"};
    app.add_option("-d,--disk", options.disk, "Trace this disk only")
        ->check(bounded_text(31, "a disk name has at most 31 characters"));
    add_common_options(app, options.common, true);
    app.add_option("interval", options.interval_s, "Output interval, in seconds")
        ->check(positive_integer);
    app.add_option("count", options.count, "Number of outputs")->check(positive_integer);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(biopattern, "random and sequential block I/O per disk", biopattern_main,
               biopattern_hooks);
