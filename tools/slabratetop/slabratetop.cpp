// slabratetop: kernel slab allocations per cache and interval, libbpf-tools' slabratetop with
// its flags and text output, from the kmem:kmem_cache_alloc tracepoint, plus --json.
#include "slabratetop.skel.h"
#include "slabratetop.h"

#include "coretrace/clock.hpp"
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
#include <strings.h>

namespace {

using namespace coretrace;

// raw_tp first: no record copy, and the cache's name is read only as far as its NUL.
constexpr std::string_view alloc_sections[] = {"raw_tp/kmem_cache_alloc",
                                               "tp/kmem/kmem_cache_alloc"};
constexpr hooks::EventHooks slabratetop_hooks[] = {{"kmem_cache_alloc", alloc_sections}};

constexpr long rows_limit = 10240; // as libbpf-tools: more rows than caches can exist

struct Options {
    CommonOptions common;
    TaskFilter filter;
    bool no_clear = false;
    long rows = 20;
    std::string sort = "size";
    Pacing pacing{std::chrono::seconds(1), {}};
};

struct Row {
    std::string name;
    std::uint64_t count, bytes;
};

void report(const Options& options, HashMap<slabratetop_key, slabratetop_value>& entries,
            const volatile __u64& dropped, std::uint64_t& dropped_seen) {
    auto items = entries.take();
    std::vector<Row> rows;
    rows.reserve(items.size());
    for (const auto& [key, value] : items)
        rows.push_back({fixed_string(key.name), value.count, value.bytes});
    std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
        if (options.sort == "name")
            return strcasecmp(a.name.c_str(), b.name.c_str()) < 0;
        if (options.sort == "count")
            return a.count != b.count ? a.count > b.count : a.name < b.name;
        return a.bytes != b.bytes ? a.bytes > b.bytes : a.name < b.name;
    });
    if (rows.size() > static_cast<std::size_t>(options.rows))
        rows.resize(static_cast<std::size_t>(options.rows));
    const std::uint64_t dropped_now = dropped;
    const std::uint64_t dropped_interval = dropped_now - dropped_seen;
    dropped_seen = dropped_now;

    if (options.common.json) {
        auto caches = nlohmann::json::array();
        for (const auto& row : rows)
            caches.push_back({{"name", row.name}, {"allocs", row.count}, {"bytes", row.bytes}});
        emit_json_line(nlohmann::json{{"time_unix_ns", unix_time_ns()},
                                      {"interval_s", options.pacing.interval.count()},
                                      {"caches", std::move(caches)},
                                      {"dropped", dropped_interval}}
                           .dump());
        return;
    }
    std::string out;
    if (!options.no_clear)
        out += "\033[H\033[2J"; // what clear(1) writes, without running it
    std::string loadavg = sys::read_first_line("/proc/loadavg");
    out += fmt::format("{:<8} loadavg: {}\n\n", clock_time(), loadavg.empty() ? "N/A" : loadavg);
    out += fmt::format("{:<32} {:>6} {:>10}\n", "CACHE", "ALLOCS", "BYTES");
    for (const auto& row : rows)
        out += fmt::format("{:<32} {:>6} {:>10}\n", row.name, row.count, row.bytes);
    if (dropped_interval)
        out += fmt::format("({} allocations not counted: too many caches)\n", dropped_interval);
    out += "\n";
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<slabratetop_bpf>::open();
    hooks::prefer(skel.object(), slabratetop_hooks[0]);
    options.filter.configure(skel->rodata);
    skel.load();
    HashMap<slabratetop_key, slabratetop_value> entries(skel->maps.slab_entries);
    skel.attach();

    announce(options.common, "Tracing slab allocations... Hit Ctrl-C to end.");
    std::uint64_t dropped_seen = 0;
    options.pacing.run(stop, [&] { report(options, entries, skel->bss->dropped, dropped_seen); });
    return 0;
}

int slabratetop_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Trace slab kmem cache alloc by process.\n\n"
                 "USAGE: slabratetop [-h] [-C] [-p PID] [-r ROWS] [-s SORT] [--json] [interval] "
                 "[count]\n\n"
                 "EXAMPLES:\n"
                 "    slabratetop            # slab rate top, refresh every 1s\n"
                 "    slabratetop -p 181     # only trace PID 181\n"
                 "    slabratetop -s count   # sort columns by count\n"
                 "    slabratetop -r 100     # print 100 rows\n"
                 "    slabratetop 5 10       # 5s summaries, 10 times\n"
                 "    slabratetop --json 1 5 # five 1-second tables as JSON Lines\n\n"
                 "From the kmem:kmem_cache_alloc tracepoint (raw tracepoint first). It fires in\n"
                 "kmem_cache_alloc(), kmem_cache_alloc_lru() and kmem_cache_alloc_node(), where\n"
                 "libbpf-tools' kprobe sees the first only; neither sees kmalloc() (its own\n"
                 "tracepoint) nor kmem_cache_alloc_bulk().",
                 "slabratetop"};
    app.add_flag("-C,--noclear", options.no_clear, "Don't clear the screen");
    add_pid_option(app, options.filter);
    app.add_option("-r,--rows", options.rows, "Maximum rows to print, default 20")
        ->check(positive_integer);
    app.add_option("-s,--sort", options.sort, "Sort columns, default size [name, count, size]")
        ->check(CLI::IsMember({"name", "count", "size"}));
    add_common_options(app, options.common, false);
    add_pacing_options(app, options.pacing, "Output interval, in seconds (default 1)");
    return run_tool(app, argc, argv, options.common, [&] {
        options.rows = std::min(options.rows, rows_limit);
        return run(options);
    });
}

} // namespace

CORETRACE_TOOL(slabratetop, "kernel slab allocations per cache and interval", slabratetop_main,
               slabratetop_hooks);
