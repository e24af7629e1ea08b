// numamove: page migrations per second, libbpf-tools' numamove with its text output, from the
// migrate:mm_migrate_pages tracepoints, plus -a (every migration reason, not only NUMA
// balancing) and --json with the pages moved and a per-reason breakdown.
#include "numamove.skel.h"
#include "numamove.h"

#include "coretrace/clock.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/map.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

#include <array>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace {

using namespace coretrace;

// libbpf-tools: kprobes or fentry on migrate_misplaced_page/folio. The tracepoints work where
// those do not.
constexpr std::string_view start_sections[] = {"tp/migrate/mm_migrate_pages_start"};
constexpr std::string_view end_sections[] = {"tp/migrate/mm_migrate_pages"};
constexpr hooks::EventHooks numamove_hooks[] = {{"mm_migrate_pages_start", start_sections},
                                                {"mm_migrate_pages", end_sections}};

// enum migrate_reason, as the tracepoint's format prints it.
constexpr std::array<std::string_view, 10> reason_names = {
    "compaction",     "memory_failure", "memory_hotplug", "syscall_or_cpuset", "mempolicy_mbind",
    "numa_misplaced", "contig_range",   "longterm_pin",   "demotion",          "damon"};

std::string reason_name(std::size_t reason) {
    if (reason < reason_names.size())
        return std::string(reason_names[reason]);
    return reason == NUMAMOVE_REASONS - 1 ? "other" : fmt::format("reason_{}", reason);
}

struct Options {
    CommonOptions common;
    bool all_reasons = false;
};

class Reporter {
  public:
    Reporter(const Options& options, ArrayMap<numamove_stat>& stats)
        : options_(options), stats_(stats) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.all_reasons)
            std::printf("%-10s %18s %18s\n", "TIME", "migrations", "migrations_ms");
        else
            std::printf("%-10s %18s %18s\n", "TIME", "NUMA_migrations", "NUMA_migrations_ms");
        std::fflush(stdout);
    }

    // One line per interval: what happened since the previous one.
    void report() {
        numamove_stat total{};
        nlohmann::json reasons = nlohmann::json::object();
        for (std::uint32_t slot = 0; slot < NUMAMOVE_REASONS; slot++) {
            const numamove_stat now = stats_.at(slot);
            numamove_stat& before = previous_[slot];
            const numamove_stat delta{now.migrations - before.migrations,
                                      now.succeeded - before.succeeded, now.failed - before.failed,
                                      now.latency_ns - before.latency_ns,
                                      now.latency_samples - before.latency_samples};
            before = now;
            total.migrations += delta.migrations;
            total.succeeded += delta.succeeded;
            total.failed += delta.failed;
            total.latency_ns += delta.latency_ns;
            total.latency_samples += delta.latency_samples;
            if (delta.migrations)
                reasons[reason_name(slot)] = {{"migrations", delta.migrations},
                                              {"pages_succeeded", delta.succeeded},
                                              {"pages_failed", delta.failed},
                                              {"latency_ns", delta.latency_ns}};
        }
        if (options_.common.json) {
            emit_json_line(nlohmann::json{{"time_unix_ns", unix_time_ns()},
                                          {"all_reasons", options_.all_reasons},
                                          {"migrations", total.migrations},
                                          {"latency_ms", total.latency_ns / 1000000},
                                          {"latency_ns", total.latency_ns},
                                          {"latency_samples", total.latency_samples},
                                          {"pages_succeeded", total.succeeded},
                                          {"pages_failed", total.failed},
                                          {"reasons", std::move(reasons)}}
                               .dump());
            return;
        }
        std::printf("%-10s %18llu %18llu\n", clock_time().c_str(),
                    static_cast<unsigned long long>(total.migrations),
                    static_cast<unsigned long long>(total.latency_ns / 1000000));
        std::fflush(stdout);
    }

  private:
    const Options& options_;
    ArrayMap<numamove_stat>& stats_;
    std::array<numamove_stat, NUMAMOVE_REASONS> previous_{};
};

int run(const Options& options) {
    sys::require_bpf_privileges();
    StopSignals stop;

    auto skel = Skeleton<numamove_bpf>::open();
    hooks::prefer(skel.object(), numamove_hooks[0]);
    hooks::prefer(skel.object(), numamove_hooks[1]);
    skel->rodata->all_reasons = options.all_reasons;
    skel.load();
    ArrayMap<numamove_stat> stats(skel->maps.stats);
    skel.attach();

    announce(options.common, fmt::format("Tracing {} page migrations... Hit Ctrl-C to end.",
                                         options.all_reasons ? "all" : "NUMA misplaced"));
    Reporter reporter(options, stats);
    reporter.header();
    Pacing pacing;
    pacing.interval = std::chrono::seconds(1);
    pacing.run(stop, [&] { reporter.report(); });
    return 0;
}

int numamove_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Show page migrations of type NUMA misplaced per second.\n\n"
        "USAGE: numamove [--help] [-a] [--json]\n\n"
        "EXAMPLES:\n"
        "    numamove              # Show page migrations' count and latency\n"
        "    numamove -a           # Count migrations of every reason (compaction, ...)\n"
        "    numamove --json       # One JSON object per second\n\n"
        "From the migrate:mm_migrate_pages_start/mm_migrate_pages tracepoints, not a kprobe\n"
        "on migrate_misplaced_page(): a migration is one migrate_pages() call with reason\n"
        "NUMA misplaced (one folio for NUMA balancing), and its latency is the migrate_pages()\n"
        "call only, without the page isolation that migrate_misplaced_page() does before it.",
        "numamove"};
    app.add_flag("-a,--all-reasons", options.all_reasons,
                 "Count page migrations of every reason, not only NUMA misplaced");
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(numamove, "page migrations (NUMA balancing, or all reasons) per second",
               numamove_main, numamove_hooks);
