// hardirqs: hard interrupt handler time (or counts, -C) per handler name, libbpf-tools' hardirqs
// with its flags and text output, plus --json, raw_tp / tp_btf / tracepoint fallbacks, and the
// handler runs that could not be recorded reported instead of dropped silently.
#include "hardirqs_setup.hpp"

#include "coretrace/clock.hpp"
#include "coretrace/histogram.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/map.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <bpf/bpf.h>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

using namespace coretrace;

struct Options {
    CommonOptions common;
    bool count = false, distributed = false, nanoseconds = false;
    TaskFilter filter;
    Pacing pacing;
};
// Reports what changed since the last report: the BPF totals only grow.
class Reporter {
  public:
    Reporter(const Options& options, bpf_object* object, bpf_map* infos,
             const volatile __u64* infos_full)
        : options_(options), object_(object), infos_(infos), infos_full_(infos_full) {}

    void report() {
        struct Row {
            std::string name;
            hardirqs_info info;
        };
        std::vector<Row> rows;
        for (const auto& [key, now] : infos_.items()) {
            hardirqs_info& before = previous_[fixed_string(key.name)];
            hardirqs_info delta{};
            delta.count = now.count - before.count;
            delta.total = now.total - before.total;
            for (int i = 0; i < HARDIRQS_MAX_SLOTS; i++)
                delta.slots[i] = now.slots[i] - before.slots[i];
            before = now;
            if (delta.count)
                rows.push_back({fixed_string(key.name), delta});
        }
        // Busiest first (by the column shown), then by name.
        auto value = [&](const Row& row) {
            return options_.count ? row.info.count : row.info.total;
        };
        std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
            return value(a) != value(b) ? value(a) > value(b) : a.name < b.name;
        });
        const std::uint64_t missed_now = recursion_misses(object_) + *infos_full_;
        const std::uint64_t missed = missed_now - missed_;
        missed_ = missed_now;

        const char* unit = options_.nanoseconds ? "nsecs" : "usecs";
        if (options_.common.json) {
            auto irqs = nlohmann::json::array();
            for (const auto& row : rows) {
                nlohmann::json entry{{"name", row.name}, {"count", row.info.count}};
                if (options_.distributed)
                    entry["buckets"] = log2_hist_json(row.info.slots, unit);
                else if (!options_.count)
                    entry[fmt::format("total_{}", unit)] = row.info.total;
                irqs.push_back(std::move(entry));
            }
            nlohmann::json line{{"time_unix_ns", unix_time_ns()},
                                {"mode", options_.count         ? "count"
                                         : options_.distributed ? "distribution"
                                                                : "time"},
                                {"irqs", std::move(irqs)},
                                {"missed", missed}};
            if (!options_.count)
                line["unit"] = unit;
            emit_json_line(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
            return;
        }
        std::string out = report_heading(options_.common.timestamp);
        if (options_.count)
            out += fmt::format("{:<26} {:>11}\n", "HARDIRQ", "TOTAL_count");
        else if (!options_.distributed)
            out += fmt::format("{:<26} {:>6}{:>5}\n", "HARDIRQ", "TOTAL_", unit);
        for (const auto& row : rows) {
            if (options_.distributed) {
                out += fmt::format("hardirq = {}\n", row.name);
                out += format_log2_hist(row.info.slots, unit);
            } else {
                out += fmt::format("{:<26} {:>11}\n", row.name,
                                   options_.count ? row.info.count : row.info.total);
            }
        }
        std::fputs(out.c_str(), stdout);
        std::fflush(stdout);
        if (missed)
            std::fprintf(stderr, "%llu handler runs missed\n",
                         static_cast<unsigned long long>(missed));
    }

  private:
    const Options& options_;
    bpf_object* object_;
    HashMap<hardirqs_key, hardirqs_info> infos_;
    const volatile __u64* infos_full_;
    std::map<std::string, hardirqs_info> previous_;
    std::uint64_t missed_ = 0;
};

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel =
        hardirqs::start({options.count, options.distributed, options.nanoseconds}, options.filter);
    Reporter reporter(options, skel.object(), skel->maps.infos, &skel->bss->infos_full);

    announce(options.common, options.count ? "Tracing hard irq events... Hit Ctrl-C to end."
                                           : "Tracing hard irq event time... Hit Ctrl-C to end.");
    options.pacing.run(stop, [&] { reporter.report(); });
    return 0;
}

int hardirqs_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Summarize hard irq event time as histograms.\n"
        "Time is measured from irq:irq_handler_entry to irq:irq_handler_exit, per handler name\n"
        "(irqaction name, at most 31 bytes); interrupts handled without a registered handler\n"
        "(the local timer, IPIs, ...) have no such event and are not seen.\n\n"
        "USAGE: hardirqs [--help] [-T] [-N] [-d | -C] [-c CG] [--json] [interval] [count]\n\n"
        "EXAMPLES:\n"
        "    hardirqs            # sum hard irq event time\n"
        "    hardirqs -d         # show hard irq event time as histograms\n"
        "    hardirqs -C         # count hard irq events\n"
        "    hardirqs 1 10       # print 1 second summaries, 10 times\n"
        "    hardirqs -c CG      # only interrupts landing on tasks in cgroup v2 directory CG\n"
        "    hardirqs -NT 1      # 1s summaries, nanoseconds, and timestamps\n"
        "    hardirqs --json 1 5 # five 1-second summaries as JSON Lines",
        "hardirqs"};
    auto* count = app.add_flag("-C,--count", options.count, "Show event counts instead of timing");
    app.add_flag("-d,--distributed", options.distributed, "Show distributions as histograms")
        ->excludes(count);
    app.add_flag("-N,--nanoseconds", options.nanoseconds, "Output in nanoseconds");
    add_cgroup_option(app, options.filter,
                      "Only interrupts that land on tasks in this cgroup v2 path");
    add_common_options(app, options.common, true);
    add_pacing_options(app, options.pacing);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(hardirqs, "hard interrupt handler time or counts per handler", hardirqs_main,
               hardirqs::hook_table);
