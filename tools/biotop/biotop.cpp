// biotop: top processes by block I/O, libbpf-tools' biotop with its flags (-C, -r ROWS,
// -s SORT, [interval] [count]) and columns, plus -p PID, -c CG, --json, without kprobes.
#include "biotop.skel.h"
#include "biotop.h"
#include "coretrace/block_devices.hpp"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/log.hpp"
#include "coretrace/map.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>

namespace {

using namespace coretrace;

constexpr std::string_view start_sections[] = {"raw_tp/block_io_start", "tp_btf/block_io_start"};
constexpr std::string_view issue_sections[] = {"raw_tp/block_rq_issue", "tp_btf/block_rq_issue"};
constexpr std::string_view complete_sections[] = {"raw_tp/block_rq_complete",
                                                  "tp_btf/block_rq_complete"};
constexpr hooks::EventHooks biotop_hooks[] = {
    {"block_io_start", start_sections, /*optional=*/true},
    {"block_rq_issue", issue_sections},
    {"block_rq_complete", complete_sections},
};

struct Options {
    CommonOptions common;
    bool noclear = false;
    long rows = 20;
    std::string sort = "all";
    pid_t pid = 0;
    std::string cgroup;
    long interval_s = 1;
    long count = 0;
};

using Row = std::pair<biotop_key, biotop_value>;

void sort_rows(std::vector<Row>& rows, const std::string& by) {
    auto key = [&by](const Row& r) {
        const auto& v = r.second;
        if (by == "io")
            return std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>(v.io, v.bytes, v.ns);
        if (by == "bytes")
            return std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>(v.bytes, v.io, v.ns);
        if (by == "time")
            return std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>(v.ns, v.io, v.bytes);
        return std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>(v.io, v.bytes, v.ns);
    };
    std::stable_sort(rows.begin(), rows.end(),
                     [&](const Row& a, const Row& b) { return key(a) > key(b); });
}

void report(const Options& options, HashMap<biotop_key, biotop_value>& totals,
            block::DiskNames& disks) {
    auto rows = totals.items();
    for (const auto& [key, value] : rows)
        totals.erase(key);
    sort_rows(rows, options.sort);
    if (rows.size() > static_cast<std::size_t>(options.rows))
        rows.resize(static_cast<std::size_t>(options.rows));

    if (options.common.json) {
        auto out = nlohmann::json::array();
        for (const auto& [k, v] : rows)
            out.push_back({{"pid", k.pid},
                           {"comm", fixed_string(k.comm)},
                           {"direction", k.write ? "write" : "read"},
                           {"dev_major", k.dev >> BLOCK_MINOR_BITS},
                           {"dev_minor", k.dev & ((1u << BLOCK_MINOR_BITS) - 1)},
                           {"disk", disks(k.dev)},
                           {"io", v.io},
                           {"bytes", v.bytes},
                           {"avg_ns", v.io ? v.ns / v.io : 0}});
        emit_json_line(
            nlohmann::json{{"time_unix_ns", unix_time_ns()}, {"rows", std::move(out)}}.dump());
        return;
    }
    std::string out;
    if (!options.noclear)
        out += "\033[H\033[2J";
    std::string loadavg = sys::read_first_line("/proc/loadavg");
    out += fmt::format("{:<8} loadavg: {}\n\n", clock_time(), loadavg);
    out += fmt::format("{:<7} {:<16} {:1} {:<3} {:<3} {:<8} {:>5} {:>7} {:>6}\n", "PID", "COMM",
                       "D", "MAJ", "MIN", "DISK", "I/O", "Kbytes", "AVGms");
    for (const auto& [k, v] : rows)
        out += fmt::format("{:<7} {:<16} {:1} {:<3} {:<3} {:<8} {:>5} {:>7} {:>6.2f}\n", k.pid,
                           fixed_string(k.comm), k.write ? "W" : "R", k.dev >> BLOCK_MINOR_BITS,
                           k.dev & ((1u << BLOCK_MINOR_BITS) - 1), disks(k.dev), v.io,
                           v.bytes / 1024, v.io ? static_cast<double>(v.ns) / v.io / 1e6 : 0.0);
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(const Options& options) {
    sys::require_bpf_privileges();
    TaskFilter filter;
    filter.tgid = options.pid;
    filter.cgroup_path = options.cgroup;
    filter.validate();
    block::DiskNames disks;
    StopSignals stop;

    auto skel = Skeleton<biotop_bpf>::open();
    try {
        hooks::prefer(skel.object(), biotop_hooks[0]);
    } catch (const Error& e) {
        hooks::skip(skel.object(), biotop_hooks[0]);
        log::debug("block_io_start: not traced, the process is the one issuing: {}", e.what());
    }
    hooks::prefer(skel.object(), biotop_hooks[1]);
    hooks::prefer(skel.object(), biotop_hooks[2]);
    filter.configure(skel->rodata);
    skel.load();
    filter.install(skel->maps.ct_cgroup_filter);
    HashMap<biotop_key, biotop_value> totals(skel->maps.totals);
    skel.attach();

    announce(options.common, "Tracing... Output every " + std::to_string(options.interval_s) +
                                 " secs. Hit Ctrl-C to end");
    Pacing pacing;
    pacing.interval = std::chrono::seconds(options.interval_s);
    if (options.count)
        pacing.count = options.count;
    pacing.run(stop, [&] { report(options, totals, disks); });
    if (skel->bss->requests_dropped)
        std::fprintf(stderr, "%llu requests not counted: a map was full\n",
                     static_cast<unsigned long long>(skel->bss->requests_dropped));
    return 0;
}

int biotop_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Block device I/O top: requests, Kbytes and average time at the device per\n"
                 "process, disk and direction. The process is the task that began the request\n"
                 "(block_io_start, Linux 6.5 and later; before that, the task that issued it).\n\n"
                 "USAGE: biotop [-h] [-C] [-r ROWS] [-s SORT] [-p PID] [-c CG] [--json]\n"
                 "              [interval] [count]\n\n"
                 "EXAMPLES:\n"
                 "    biotop            # block I/O top, refresh every 1s\n"
                 "    biotop 5 10       # 5s summaries, 10 times\n"
                 "    biotop -s bytes   # sorted by bytes\n"
                 "    biotop -p 185     # PID 185 only",
                 "biotop"};
    app.add_flag("-C,--noclear", options.noclear, "Don't clear the screen");
    app.add_option("-r,--rows", options.rows, "Maximum rows to print, default 20")
        ->check(positive_integer);
    app.add_option("-s,--sort", options.sort, "Sort columns, default all [all, io, bytes, time]")
        ->check(CLI::IsMember({"all", "io", "bytes", "time"}));
    app.add_option("-p,--pid", options.pid, "Trace this process only")->check(positive_integer);
    app.add_option("-c,--cgroup", options.cgroup, "Trace processes in this cgroup v2 path only");
    add_common_options(app, options.common, false);
    app.add_option("interval", options.interval_s, "Output interval, in seconds (default 1)")
        ->check(positive_integer);
    app.add_option("count", options.count, "Number of outputs")->check(positive_integer);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(biotop, "top processes by block device I/O", biotop_main, biotop_hooks);
