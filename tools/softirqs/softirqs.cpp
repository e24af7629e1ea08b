// softirqs: softirq handler time (and counts, -C) per vector, libbpf-tools' softirqs with its
// flags and text output, plus --json, raw_tp / tp_btf / tracepoint fallbacks, and the runs the
// kernel did not let the programs see reported instead of dropped silently.
#include "softirqs_setup.hpp"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/histogram.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

#include <array>
#include <bpf/bpf.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace {

using namespace coretrace;

struct Options {
    CommonOptions common;
    bool count = false, distributed = false, nanoseconds = false;
    int cpu = -1;
    Pacing pacing;
};
template <typename T> T load(const T& value) {
    return __atomic_load_n(&value, __ATOMIC_RELAXED);
}

// What the BPF side has counted so far; reports are the difference between two snapshots.
struct Snapshot {
    std::array<std::uint64_t, SOFTIRQS_NR_VECTORS> counts{}, times{};
    std::array<std::array<std::uint32_t, SOFTIRQS_MAX_SLOTS>, SOFTIRQS_NR_VECTORS> slots{};
    std::uint64_t missed = 0;

    static Snapshot take(const softirqs_bpf& skel) {
        Snapshot s;
        for (int v = 0; v < SOFTIRQS_NR_VECTORS; v++) {
            s.counts[v] = load(skel.bss->counts[v]);
            s.times[v] = load(skel.bss->times[v]);
            for (int i = 0; i < SOFTIRQS_MAX_SLOTS; i++)
                s.slots[v][i] = load(skel.bss->hists[v][i]);
        }
        s.missed = recursion_misses(skel.obj) + load(skel.bss->unknown_vectors);
        return s;
    }
    Snapshot minus(const Snapshot& before) const {
        Snapshot d;
        for (int v = 0; v < SOFTIRQS_NR_VECTORS; v++) {
            d.counts[v] = counts[v] - before.counts[v];
            d.times[v] = times[v] - before.times[v];
            for (int i = 0; i < SOFTIRQS_MAX_SLOTS; i++)
                d.slots[v][i] = slots[v][i] - before.slots[v][i];
        }
        d.missed = missed - before.missed;
        return d;
    }
};

void print(const Options& options, const Snapshot& d) {
    const char* unit = options.nanoseconds ? "nsecs" : "usecs";
    if (options.common.json) {
        auto vectors = nlohmann::json::array();
        for (int v = 0; v < SOFTIRQS_NR_VECTORS; v++) {
            if (!d.counts[v])
                continue;
            nlohmann::json entry{
                {"name", softirqs::vector_names[v]}, {"vector", v}, {"count", d.counts[v]}};
            if (options.distributed)
                entry["buckets"] = log2_hist_json(d.slots[v], unit);
            else
                entry[fmt::format("total_{}", unit)] = d.times[v];
            vectors.push_back(std::move(entry));
        }
        emit_json_line(nlohmann::json{
            {"time_unix_ns", unix_time_ns()},
            {"mode", options.distributed ? "distribution" : "time"},
            {"unit", unit},
            {"softirqs", std::move(vectors)},
            {"missed",
             d.missed}}.dump());
        return;
    }
    std::string out = report_heading(options.common.timestamp);
    if (options.distributed) {
        for (int v = 0; v < SOFTIRQS_NR_VECTORS; v++) {
            const std::string hist = format_log2_hist(d.slots[v], unit);
            if (hist.empty())
                continue;
            out += fmt::format("softirq = {}\n{}\n", softirqs::vector_names[v], hist);
        }
    } else {
        if (options.count)
            out += fmt::format("{:<16} {:<6}{:<5}  {:<11}\n", "SOFTIRQ", "TOTAL_", unit,
                               "TOTAL_count");
        else
            out += fmt::format("{:<16} {:>6}{:>5}\n", "SOFTIRQ", "TOTAL_", unit);
        for (int v = 0; v < SOFTIRQS_NR_VECTORS; v++) {
            if (!d.counts[v])
                continue;
            out += fmt::format("{:<16} {:>11}", softirqs::vector_names[v], d.times[v]);
            if (options.count)
                out += fmt::format("  {:>11}", d.counts[v]);
            out += "\n";
        }
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
    if (d.missed)
        std::fprintf(stderr, "%llu softirq runs missed\n",
                     static_cast<unsigned long long>(d.missed));
}

int run(const Options& options) {
    sys::require_bpf_privileges();
    if (options.cpu >= 0) {
        const long cpus = ::sysconf(_SC_NPROCESSORS_CONF);
        if (options.cpu >= cpus)
            throw Error(fmt::format("cpu {} does not exist (this machine has cpus 0 to {})",
                                    options.cpu, cpus - 1));
    }
    StopSignals stop;

    auto skel = softirqs::start({options.distributed, options.nanoseconds, options.cpu});

    announce(options.common, "Tracing soft irq event time... Hit Ctrl-C to end.");
    // Everything starts at 0 when loaded: a first snapshot taken here instead, after the
    // banner, would hide what ran between the two from the first report.
    Snapshot last;
    options.pacing.run(stop, [&] {
        Snapshot now = Snapshot::take(*skel.get());
        print(options, now.minus(last));
        last = now;
    });
    return 0;
}

int softirqs_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Summarize soft irq event time as histograms.\n"
                 "Time is measured from irq:softirq_entry to irq:softirq_exit per vector; runs\n"
                 "are counted at entry, as /proc/softirqs counts them.\n\n"
                 "USAGE: softirqs [--help] [-T] [-N] [-d] [-C] [-c CPU] [--json] [interval] "
                 "[count]\n\n"
                 "EXAMPLES:\n"
                 "    softirqs            # sum soft irq event time\n"
                 "    softirqs -d         # show soft irq event time as histograms\n"
                 "    softirqs -C         # show event counts with timing\n"
                 "    softirqs -c 1       # show soft irq event time on cpu 1\n"
                 "    softirqs 1 10       # print 1 second summaries, 10 times\n"
                 "    softirqs -NT 1      # 1s summaries, nanoseconds, and timestamps\n"
                 "    softirqs --json 1 5 # five 1-second summaries as JSON Lines",
                 "softirqs"};
    auto* dist =
        app.add_flag("-d,--distributed", options.distributed, "Show distributions as histograms");
    app.add_flag("-C,--count", options.count, "Show event counts with timing")->excludes(dist);
    app.add_flag("-N,--nanoseconds", options.nanoseconds, "Output in nanoseconds");
    app.add_option("-c,--cpu", options.cpu, "Trace this cpu only")
        ->check(CLI::Range(0, 65535).description(""));
    add_common_options(app, options.common, true);
    add_pacing_options(app, options.pacing);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(softirqs, "softirq handler time and counts per vector", softirqs_main,
               softirqs::hook_table);
