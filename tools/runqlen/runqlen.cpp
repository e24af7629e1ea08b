// runqlen: run queue length histograms by sampling, libbpf-tools' runqlen with its flags and
// output, plus --json; it loads on Linux 6.14 and later, where libbpf-tools' does not (the CFS
// field it reads was renamed; see runqlen.bpf.c).
#include "runqlen.skel.h"
#include "runqlen.h"

#include "coretrace/clock.hpp"
#include "coretrace/histogram.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/map.hpp"
#include "coretrace/perf_event.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace {

using namespace coretrace;

// One candidate: a perf_event program, run by the cpu-clock timer this tool opens on each CPU.
constexpr std::string_view sample_sections[] = {"perf_event"};
constexpr hooks::EventHooks runqlen_hooks[] = {{"cpu-clock sample", sample_sections}};

struct Options {
    CommonOptions common;
    bool per_cpu = false, occupancy = false;
    long frequency = 99;
    Pacing pacing;
};

using Slots = std::array<std::uint32_t, RUNQLEN_MAX_SLOTS>;

// The samples since the previous report: the BPF counters only grow, and each report takes the
// difference from the last reading, so no sample is lost between reading and resetting.
class Sampler {
  public:
    Sampler(const bpf_map* map, std::vector<int> cpus) : map_(map), cpus_(std::move(cpus)) {
        last_.resize(map_.cpus());
    }

    // Per sampled CPU, the samples since the last call.
    std::vector<Slots> take() {
        auto now = map_.lookup(0).value_or(std::vector<runqlen_hist>(map_.cpus()));
        std::vector<Slots> out;
        for (int cpu : cpus_) {
            Slots delta{};
            if (cpu < static_cast<int>(now.size())) {
                for (int i = 0; i < RUNQLEN_MAX_SLOTS; i++)
                    delta[i] = now[cpu].slots[i] - last_[cpu].slots[i];
                last_[cpu] = now[cpu];
            }
            out.push_back(delta);
        }
        return out;
    }
    const std::vector<int>& cpus() const { return cpus_; }

  private:
    PerCpuArrayMap<runqlen_hist> map_;
    std::vector<int> cpus_;
    std::vector<runqlen_hist> last_;
};

double occupancy_pct(const Slots& slots) {
    const std::uint64_t samples = hist_total(slots);
    return samples ? 100.0 * static_cast<double>(samples - slots[0]) / static_cast<double>(samples)
                   : 0.0;
}

nlohmann::json histogram_json(const Slots& slots) {
    auto buckets = nlohmann::json::array();
    int last = -1;
    for (int i = 0; i < RUNQLEN_MAX_SLOTS; i++)
        if (slots[i])
            last = i;
    for (int i = 0; i <= last; i++)
        buckets.push_back({{"runqlen", i}, {"count", slots[i]}});
    return {{"samples", hist_total(slots)},
            {"occupancy_pct", occupancy_pct(slots)},
            {"buckets", std::move(buckets)}};
}

void report(const Options& options, Sampler& sampler) {
    auto per_cpu = sampler.take();
    std::vector<std::pair<int, Slots>> hists; // (cpu or -1, slots)
    if (options.per_cpu) {
        for (std::size_t i = 0; i < per_cpu.size(); i++)
            hists.emplace_back(sampler.cpus()[i], per_cpu[i]);
    } else {
        Slots sum{};
        for (const auto& slots : per_cpu)
            for (int i = 0; i < RUNQLEN_MAX_SLOTS; i++)
                sum[i] += slots[i];
        hists.emplace_back(-1, sum);
    }

    if (options.common.json) {
        auto histograms = nlohmann::json::array();
        for (const auto& [cpu, slots] : hists) {
            auto entry = histogram_json(slots);
            if (cpu >= 0)
                entry["cpu"] = cpu;
            histograms.push_back(std::move(entry));
        }
        emit_json_line(nlohmann::json{{"time_unix_ns", unix_time_ns()},
                                      {"frequency_hz", options.frequency},
                                      {"histograms", std::move(histograms)}}
                           .dump());
        return;
    }
    std::string out = report_heading(options.common.timestamp);
    for (const auto& [cpu, slots] : hists) {
        if (options.occupancy) {
            out += cpu >= 0
                       ? fmt::format("runqocc, CPU {:<3} {:6.2f}%\n", cpu, occupancy_pct(slots))
                       : fmt::format("runqocc: {:0.2f}%\n", occupancy_pct(slots));
            continue;
        }
        if (cpu >= 0)
            out += fmt::format("cpu = {}\n", cpu);
        out += format_linear_hist(slots, 0, 1, "runqlen");
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(const Options& options) {
    sys::require_bpf_privileges();
    StopSignals stop;

    // The timers first: a machine that cannot sample fails here, before anything loads.
    auto events = perf::PerCpuEvents::open(
        perf::EventSpec::cpu_clock(static_cast<std::uint64_t>(options.frequency)));
    auto skel = Skeleton<runqlen_bpf>::open();
    bpf_program* sample = hooks::prefer(skel.object(), runqlen_hooks[0]);
    skel.load();
    Sampler sampler(skel->maps.hist, events.cpus());
    events.attach(sample);

    announce(options.common, "Sampling run queue length... Hit Ctrl-C to end.");
    options.pacing.run(stop, [&] { report(options, sampler); });
    events.detach();
    return 0;
}

int runqlen_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Summarize scheduler run queue length as a histogram: a cpu-clock timer samples\n"
                 "each online CPU FREQUENCY times a second and counts the tasks waiting on the\n"
                 "CFS run queue of the task running there (not counting that task).\n\n"
                 "USAGE: runqlen [--help] [-C] [-O] [-T] [-f FREQUENCY] [--json] [interval] "
                 "[count]\n\n"
                 "EXAMPLES:\n"
                 "    runqlen         # summarize run queue length as a histogram\n"
                 "    runqlen 1 10    # print 1 second summaries, 10 times\n"
                 "    runqlen -T 1    # 1s summaries and timestamps\n"
                 "    runqlen -O      # report run queue occupancy\n"
                 "    runqlen -C      # show each CPU separately\n"
                 "    runqlen -f 199  # sample at 199HZ\n"
                 "    runqlen --json 1 5  # five 1-second histograms as JSON Lines",
                 "runqlen"};
    app.add_flag("-C,--cpus", options.per_cpu, "Print output for each CPU separately");
    app.add_option("-f,--frequency", options.frequency,
                   "Sample with a certain frequency, in Hz (default 99)")
        ->check(positive_integer);
    app.add_flag("-O,--runqocc", options.occupancy, "Report run queue occupancy");
    add_common_options(app, options.common, true);
    add_pacing_options(app, options.pacing);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(runqlen, "run queue length by sampling every CPU, as a histogram", runqlen_main,
               runqlen_hooks);
