// drsnoop: every direct reclaim a task does, with its latency and the pages it reclaimed,
// libbpf-tools' drsnoop with its flags and text output, plus --json, -c CGROUP, --memcg (the
// reclaim of a memory cgroup at its limit), every filter in the kernel, and lost records counted.
#include "drsnoop.skel.h"
#include "drsnoop.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/log.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace {

using namespace coretrace;
using namespace std::chrono;

constexpr std::string_view direct_begin[] = {"raw_tp/mm_vmscan_direct_reclaim_begin",
                                             "tp_btf/mm_vmscan_direct_reclaim_begin",
                                             "tp/vmscan/mm_vmscan_direct_reclaim_begin"};
constexpr std::string_view direct_end[] = {"raw_tp/mm_vmscan_direct_reclaim_end",
                                           "tp_btf/mm_vmscan_direct_reclaim_end",
                                           "tp/vmscan/mm_vmscan_direct_reclaim_end"};
constexpr std::string_view memcg_begin[] = {"raw_tp/mm_vmscan_memcg_reclaim_begin",
                                            "tp_btf/mm_vmscan_memcg_reclaim_begin",
                                            "tp/vmscan/mm_vmscan_memcg_reclaim_begin"};
constexpr std::string_view memcg_end[] = {"raw_tp/mm_vmscan_memcg_reclaim_end",
                                          "tp_btf/mm_vmscan_memcg_reclaim_end",
                                          "tp/vmscan/mm_vmscan_memcg_reclaim_end"};
constexpr hooks::EventHooks drsnoop_hooks[] = {
    {"direct reclaim begin", direct_begin},
    {"direct reclaim end", direct_end},
    {"memcg reclaim begin (--memcg)", memcg_begin},
    {"memcg reclaim end (--memcg)", memcg_end},
};

// Reclaims in progress at once that can be followed (one per thread and kind).
constexpr std::uint32_t max_reclaims_in_progress = 16384;

struct Options {
    CommonOptions common;
    TaskFilter filter;
    long duration_s = 0;
    bool extended = false, memcg = false;
};

// The kernel address of vm_zone_stat, when /proc/kallsyms lists data symbols
// (CONFIG_KALLSYMS_ALL) and shows addresses to us; 0 otherwise.
std::uint64_t vm_zone_stat_address() {
    std::ifstream kallsyms("/proc/kallsyms");
    std::string line;
    while (std::getline(kallsyms, line)) {
        if (!line.ends_with(" vm_zone_stat"))
            continue;
        std::uint64_t address = std::stoull(line.substr(0, line.find(' ')), nullptr, 16);
        return address;
    }
    return 0;
}

// nr_free_pages from /proc/vmstat now: -e's fallback when the kernel's counter cannot be read
// from BPF.
std::uint64_t free_pages_now() {
    std::ifstream vmstat("/proc/vmstat");
    std::string name;
    std::uint64_t value;
    while (vmstat >> name >> value)
        if (name == "nr_free_pages")
            return value;
    return 0;
}

class Printer {
  public:
    Printer(const Options& options, bool free_at_begin)
        : options_(options), free_at_begin_(free_at_begin),
          page_kb_(static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) / 1024),
          started_ns_(unix_time_ns()) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.common.timestamp)
            std::printf("%-14s ", "TIME(s)");
        std::printf("%-8s %-16s %-6s %8s %5s", "TIME", "COMM", "TID", "LAT(ms)", "PAGES");
        if (options_.extended)
            std::printf(" %8s", "FREE(KB)");
        if (options_.memcg)
            std::printf(" %s", "TYPE");
        std::printf("\n");
        std::fflush(stdout);
    }

    void print(const drsnoop_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);
        const char* kind = event.kind == DRSNOOP_MEMCG ? "memcg" : "direct";
        const std::uint64_t free_pages = free_at_begin_ ? event.nr_free_pages : free_pages_now();

        if (options_.common.json) {
            nlohmann::json record{{"ts_ns", unix_ns},
                                  {"pid", event.pid},
                                  {"tid", event.tid},
                                  {"comm", comm},
                                  {"latency_ns", event.delta_ns},
                                  {"nr_reclaimed", event.nr_reclaimed},
                                  {"order", event.order},
                                  {"gfp_flags", event.gfp_flags},
                                  {"kind", kind}};
            if (options_.extended) {
                record["free_kb"] = free_pages * page_kb_;
                record["free_kb_when"] = free_at_begin_ ? "begin" : "printed";
            }
            write_json_record(record);
            return;
        }
        if (options_.common.timestamp)
            std::printf("%-14.9f ", static_cast<double>(unix_ns - started_ns_) / 1e9);
        std::printf("%-8s %-16s %-6u %8.3f %5llu", clock_time(unix_ns).c_str(), comm.c_str(),
                    event.tid, static_cast<double>(event.delta_ns) / 1e6,
                    static_cast<unsigned long long>(event.nr_reclaimed));
        if (options_.extended)
            std::printf(" %8llu", static_cast<unsigned long long>(free_pages * page_kb_));
        if (options_.memcg)
            std::printf(" %s", kind);
        std::printf("\n");
    }

  private:
    const Options& options_;
    bool free_at_begin_;
    std::uint64_t page_kb_;
    std::int64_t started_ns_;
    KernelClock clock_;
};

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<drsnoop_bpf>::open();
    hooks::prefer(skel.object(), drsnoop_hooks[0]);
    hooks::prefer(skel.object(), drsnoop_hooks[1]);
    if (options.memcg) {
        hooks::prefer(skel.object(), drsnoop_hooks[2]);
        hooks::prefer(skel.object(), drsnoop_hooks[3]);
    } else {
        hooks::skip(skel.object(), drsnoop_hooks[2]);
        hooks::skip(skel.object(), drsnoop_hooks[3]);
    }
    std::uint64_t zone_stat = 0;
    if (options.extended) {
        zone_stat = vm_zone_stat_address();
        if (!zone_stat)
            log::debug("vm_zone_stat is not in /proc/kallsyms: FREE(KB) is read from "
                       "/proc/vmstat as each record is printed");
    }
    skel->rodata->vm_zone_stat_addr = zone_stat;
    bpf_map__set_max_entries(skel->maps.start, max_reclaims_in_progress);

    const std::string what =
        options.memcg ? "direct and memory cgroup reclaim events" : "direct reclaim events";
    run_events<drsnoop_event, Printer>(
        skel, options.filter, stop, options.common,
        {options.duration_s
             ? fmt::format("Tracing {} for {} secs... Hit Ctrl-C to end.", what, options.duration_s)
             : fmt::format("Tracing {}... Hit Ctrl-C to end.", what),
         seconds(options.duration_s), &skel->bss->starts_dropped},
        options, zone_stat != 0);
    return 0;
}

int drsnoop_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace direct reclaim latency.\n"
        "Direct reclaim is the reclaim a task does itself when the system runs short of free\n"
        "memory. A task in a memory cgroup at its limit reclaims through another path, which\n"
        "only --memcg traces. Every filter is applied in the kernel.\n\n"
        "USAGE: drsnoop [--help] [-p PID] [-t TID] [-c CG] [-d DURATION] [-e] [-T] [--memcg]\n"
        "               [--json]\n\n"
        "EXAMPLES:\n"
        "    drsnoop         # trace all direct reclaim events\n"
        "    drsnoop -p 123  # trace pid 123\n"
        "    drsnoop -t 123  # trace tid 123 (use for threads only)\n"
        "    drsnoop -d 10   # trace for 10 seconds only\n"
        "    drsnoop -e      # trace all direct reclaim events with extended fields\n"
        "    drsnoop --memcg # also trace reclaim by memory cgroups at their limit\n"
        "    drsnoop -c CG   # only tasks in cgroup v2 directory CG\n"
        "    drsnoop --json  # one JSON object per reclaim, and a summary at the end",
        "drsnoop"};
    app.add_option("-d,--duration", options.duration_s, "Total duration of trace in seconds")
        ->check(positive_integer);
    app.add_flag("-e,--extended", options.extended, "Extended fields output (FREE(KB))");
    add_pid_option(app, options.filter, "Process PID to trace");
    add_tid_option(app, options.filter, "-t,--tid", "Thread TID to trace");
    add_cgroup_option(app, options.filter);
    app.add_flag("--memcg", options.memcg,
                 "Also trace reclaim by tasks whose memory cgroup reached its limit");
    add_common_options(app, options.common, true);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(drsnoop, "direct reclaim (and memory cgroup reclaim) latency per reclaim",
               drsnoop_main, drsnoop_hooks);
