// llcstat: last-level cache references, misses and hit rate by process (or thread) and CPU,
// sampled from hardware perf events, libbpf-tools' llcstat with its flags and text output, plus
// --json and a count of the samples not counted. Machines without a hardware PMU (virtual
// machines often have none) get one clear error line before anything loads.
//
// Test switch: with CORETRACE_LLCSTAT_SOFTWARE=1 in the environment, both events are the
// software cpu-clock (the sample period is then in nanoseconds of CPU time), so that the
// counting path can be tested on machines without a PMU. The numbers then mean CPU time, not
// cache activity.
#include "llcstat.skel.h"
#include "llcstat.h"

#include "coretrace/clock.hpp"
#include "coretrace/map.hpp"
#include "coretrace/perf_event.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace coretrace;

struct Options {
    CommonOptions common;
    long sample_period = 100;
    long duration_s = 10;
    bool per_thread = false;
};

bool software_events() {
    const char* value = std::getenv("CORETRACE_LLCSTAT_SOFTWARE");
    return value && std::strcmp(value, "1") == 0;
}

perf::EventSpec event_spec(std::uint64_t hardware_config, const char* name, std::uint64_t period) {
    perf::EventSpec spec;
    if (software_events()) {
        spec.type = PERF_TYPE_SOFTWARE;
        spec.config = PERF_COUNT_SW_CPU_CLOCK;
        spec.name = "cpu-clock";
    } else {
        spec.type = PERF_TYPE_HARDWARE;
        spec.config = hardware_config;
        spec.name = name;
    }
    spec.period = period;
    return spec;
}

double hit_pct(std::uint64_t references, std::uint64_t misses) {
    const std::uint64_t hits = references > misses ? references - misses : 0;
    return references ? static_cast<double>(hits) * 100.0 / static_cast<double>(references) : 0.0;
}

using Row = std::pair<llcstat_key, llcstat_value>;

void report(const Options& options, std::vector<Row> rows, std::uint64_t dropped) {
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
        return std::tie(a.first.pid, a.first.tid, a.first.cpu) <
               std::tie(b.first.pid, b.first.tid, b.first.cpu);
    });
    std::uint64_t total_references = 0, total_misses = 0;
    for (const auto& [key, value] : rows) {
        total_references += value.references;
        total_misses += value.misses;
    }
    if (options.common.json) {
        auto entries = nlohmann::json::array();
        for (const auto& [key, value] : rows) {
            nlohmann::json entry{{"pid", key.pid}};
            if (options.per_thread)
                entry["tid"] = key.tid;
            entry["comm"] = fixed_string(value.comm);
            entry["cpu"] = key.cpu;
            entry["references"] = value.references;
            entry["misses"] = value.misses;
            entry["hit_pct"] = hit_pct(value.references, value.misses);
            entries.push_back(std::move(entry));
        }
        emit_json_line(nlohmann::json{
            {"time_unix_ns", unix_time_ns()},
            {"events", software_events() ? "cpu-clock" : "cache"},
            {"sample_period", options.sample_period},
            {"entries", std::move(entries)},
            {"total_references", total_references},
            {"total_misses", total_misses},
            {"hit_pct", hit_pct(total_references, total_misses)},
            {"samples_not_counted",
             dropped}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        return;
    }
    std::string out;
    if (options.per_thread)
        out += fmt::format("{:<8} {:<8} {:<16} {:<4} {:>12} {:>12} {:>7}\n", "PID", "TID", "NAME",
                           "CPU", "REFERENCE", "MISS", "HIT%");
    else
        out += fmt::format("{:<8} {:<16} {:<4} {:>12} {:>12} {:>7}\n", "PID", "NAME", "CPU",
                           "REFERENCE", "MISS", "HIT%");
    for (const auto& [key, value] : rows) {
        const std::string comm = fixed_string(value.comm);
        if (options.per_thread)
            out += fmt::format("{:<8} {:<8} {:<16} {:<4} {:>12} {:>12} {:>6.2f}%\n", key.pid,
                               key.tid, comm, key.cpu, value.references, value.misses,
                               hit_pct(value.references, value.misses));
        else
            out += fmt::format("{:<8} {:<16} {:<4} {:>12} {:>12} {:>6.2f}%\n", key.pid, comm,
                               key.cpu, value.references, value.misses,
                               hit_pct(value.references, value.misses));
    }
    out += fmt::format("Total References: {} Total Misses: {} Hit Rate: {:.2f}%\n",
                       total_references, total_misses, hit_pct(total_references, total_misses));
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
    if (dropped)
        std::fprintf(stderr, "%llu samples not counted (the table of %d entries was full)\n",
                     static_cast<unsigned long long>(dropped), LLCSTAT_MAX_ENTRIES);
}

int run(const Options& options) {
    sys::require_bpf_privileges();
    StopSignals stop;
    const auto period = static_cast<std::uint64_t>(options.sample_period);
    // The events first: a machine without a hardware PMU fails here, before anything loads.
    auto misses =
        perf::PerCpuEvents::open(event_spec(PERF_COUNT_HW_CACHE_MISSES, "cache-misses", period));
    auto references = perf::PerCpuEvents::open(
        event_spec(PERF_COUNT_HW_CACHE_REFERENCES, "cache-references", period));

    auto skel = Skeleton<llcstat_bpf>::open();
    skel->rodata->targ_per_thread = options.per_thread;
    skel.load();
    misses.attach(skel->progs.llcstat_miss);
    references.attach(skel->progs.llcstat_ref);

    announce(options.common,
             fmt::format("Running for {} seconds or Hit Ctrl-C to end.", options.duration_s));
    stop.wait_for(std::chrono::seconds(options.duration_s));
    misses.detach();
    references.detach();
    report(options, HashMap<llcstat_key, llcstat_value>(skel->maps.counts).items(),
           skel->bss->samples_dropped);
    return 0;
}

int llcstat_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Summarize cache references and misses by PID, sampling the hardware events\n"
                 "cache-references and cache-misses on every CPU (needs a hardware PMU).\n\n"
                 "USAGE: llcstat [-h] [-c SAMPLE_PERIOD] [-d DURATION] [-t] [--json]\n\n"
                 "EXAMPLES:\n"
                 "    llcstat              # summarize for 10 seconds, by PID and CPU\n"
                 "    llcstat -c 1000      # sample every 1000 events\n"
                 "    llcstat -d 5 -t      # 5 seconds, by PID, TID and CPU\n"
                 "    llcstat --json       # one JSON object at the end",
                 "llcstat"};
    app.add_option("-c,--sample_period", options.sample_period, "Sample one in this many events")
        ->check(positive_integer)
        ->capture_default_str();
    app.add_option("-d,--duration", options.duration_s, "Duration of the trace, in seconds")
        ->check(positive_integer)
        ->capture_default_str();
    app.add_flag("-t,--tid", options.per_thread,
                 "Summarize cache references and misses by PID/TID");
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(llcstat, "cache references and misses by process and CPU (hardware PMU)",
               llcstat_main);
