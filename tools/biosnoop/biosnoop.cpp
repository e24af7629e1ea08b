// biosnoop: one line per completed block request, libbpf-tools' biosnoop with its flags
// (-Q -d DISK -c CG -m MIN_MS, [duration]) and columns, plus --json, -p PID, -T, every filter
// in the kernel and a count of the records lost.
#include "biosnoop.skel.h"
#include "biosnoop.h"
#include "coretrace/block_devices.hpp"

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

#include <fmt/format.h>

namespace {

using namespace coretrace;
using namespace std::chrono;

// raw_tp first (no full kernel BTF parse at start-up), tp_btf after. block_io_start (Linux 6.5)
// stands in for libbpf-tools' kprobe on blk_account_io_start; it is optional.
constexpr std::string_view start_sections[] = {"raw_tp/block_io_start", "tp_btf/block_io_start"};
constexpr std::string_view insert_sections[] = {"raw_tp/block_rq_insert", "tp_btf/block_rq_insert"};
constexpr std::string_view issue_sections[] = {"raw_tp/block_rq_issue", "tp_btf/block_rq_issue"};
constexpr std::string_view complete_sections[] = {"raw_tp/block_rq_complete",
                                                  "tp_btf/block_rq_complete"};
constexpr hooks::EventHooks biosnoop_hooks[] = {
    {"block_io_start", start_sections, /*optional=*/true},
    {"block_rq_insert", insert_sections},
    {"block_rq_issue", issue_sections},
    {"block_rq_complete", complete_sections},
};

struct Options {
    CommonOptions common;
    bool queued = false;
    std::string disk;
    std::string cgroup;
    pid_t pid = 0;
    double min_ms = 0;
    long duration_s = 0;
};

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.common.timestamp)
            std::printf("%-8s ", "TIME");
        std::printf("%-11s %-14s %-7s %-7s %-4s %-10s %-7s ", "TIME(s)", "COMM", "PID", "DISK", "T",
                    "SECTOR", "BYTES");
        if (options_.queued)
            std::printf("%7s ", "QUE(ms)");
        std::printf("%7s\n", "LAT(ms)");
        std::fflush(stdout);
    }

    void print(const biosnoop_event& event) {
        if (!first_ts_)
            first_ts_ = event.ts_ns;
        const std::string comm = fixed_string(event.comm);
        const std::string disk = disks_(event.dev);
        const bool queue_known = event.queued_ns != BIOSNOOP_NO_QUEUE_TIME;
        if (options_.common.json) {
            nlohmann::json record = {{"ts_ns", clock_.unix_ns(event.ts_ns)},
                                     {"pid", event.pid},
                                     {"comm", comm},
                                     {"disk", disk},
                                     {"dev_major", event.dev >> BLOCK_MINOR_BITS},
                                     {"dev_minor", event.dev & ((1u << BLOCK_MINOR_BITS) - 1)},
                                     {"rwbs", block::rwbs(event.flags)},
                                     {"op", block::direction(event.flags)},
                                     {"flags", block::flags_text(event.flags)},
                                     {"sector", event.sector},
                                     {"bytes", event.bytes},
                                     {"lat_ns", event.lat_ns},
                                     {"error", event.error}};
            if (queue_known)
                record["queued_ns"] = event.queued_ns;
            else
                record["queued_ns"] = nullptr;
            write_json_record(record);
            return;
        }
        if (options_.common.timestamp)
            std::printf("%-8s ", clock_time(clock_.unix_ns(event.ts_ns)).c_str());
        std::printf("%-11.6f %-14.14s %-7u %-7s %-4s %-10llu %-7u ",
                    static_cast<double>(event.ts_ns - first_ts_) / 1e9, comm.c_str(), event.pid,
                    disk.c_str(), block::rwbs(event.flags).c_str(),
                    static_cast<unsigned long long>(event.sector), event.bytes);
        if (options_.queued)
            std::printf("%7.3f ", queue_known ? static_cast<double>(event.queued_ns) / 1e6 : -1.0);
        std::printf("%7.3f\n", static_cast<double>(event.lat_ns) / 1e6);
    }

  private:
    const Options& options_;
    KernelClock clock_;
    block::DiskNames disks_;
    std::uint64_t first_ts_ = 0;
};

int run(const Options& options) {
    sys::require_bpf_privileges();
    TaskFilter filter;
    filter.tgid = options.pid;
    filter.cgroup_path = options.cgroup;
    filter.validate();
    const std::uint32_t dev = options.disk.empty() ? 0 : block::disk_dev(options.disk);
    StopSignals stop;

    auto skel = Skeleton<biosnoop_bpf>::open();
    try {
        hooks::prefer(skel.object(), biosnoop_hooks[0]);
    } catch (const Error& e) {
        hooks::skip(skel.object(), biosnoop_hooks[0]);
        log::debug("block_io_start: not traced, the process is the one inserting or issuing: {}",
                   e.what());
    }
    for (std::size_t i = 1; i < std::size(biosnoop_hooks); i++)
        hooks::prefer(skel.object(), biosnoop_hooks[i]);
    filter.configure(skel->rodata);
    skel->rodata->targ_dev = dev;
    skel->rodata->targ_min_ns = static_cast<__u64>(options.min_ms * 1e6);
    EventStream::prepare(skel);
    skel.load();
    filter.install(skel->maps.ct_cgroup_filter);

    Printer printer(options);
    auto stream = EventStream::of<biosnoop_event>(
        skel, [&printer](const biosnoop_event& event) { printer.print(event); });
    skel.attach();

    announce(options.common, "Tracing block I/O... Hit Ctrl-C to end.");
    printer.header();
    pump_events(*stream, stop, seconds(options.duration_s));
    skel.detach();
    finish_events(*stream, options.common, skel->bss->requests_dropped);
    return 0;
}

int biosnoop_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace block I/O: one line per request as it completes.\n"
        "PID and COMM are the task current when the request began (the start of its I/O\n"
        "accounting, block_io_start, on Linux 6.5 and later; before that, the task that\n"
        "inserted or issued it, which can be a kernel worker). -p and -c test that task.\n\n"
        "USAGE: biosnoop [--help] [-T] [-Q] [-d DISK] [-c CG] [-p PID] [-m MIN_MS] [--json]\n"
        "                [duration]\n\n"
        "EXAMPLES:\n"
        "    biosnoop              # trace all block I/O\n"
        "    biosnoop -Q           # include OS queued time in I/O time\n"
        "    biosnoop 10           # trace for 10 seconds only\n"
        "    biosnoop -d sdc       # trace sdc only\n"
        "    biosnoop -c CG        # Trace process under cgroupsPath CG\n"
        "    biosnoop -m 1         # only requests that took 1 ms or more at the device\n"
        "    biosnoop -p 185 --json  # PID 185's requests as JSON Lines",
        "biosnoop"};
    app.add_flag("-Q,--queued", options.queued, "Include OS queued time in I/O time");
    app.add_option("-d,--disk", options.disk, "Trace this disk only")
        ->check(bounded_text(31, "a disk name has at most 31 characters"));
    app.add_option("-c,--cgroup", options.cgroup, "Trace processes in this cgroup v2 path only");
    app.add_option("-p,--pid", options.pid, "Trace this process's requests only")
        ->check(positive_integer);
    app.add_option("-m,--min", options.min_ms, "Minimum latency at the device to trace, in ms")
        ->check(positive_number);
    add_common_options(app, options.common, true);
    app.add_option("duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(biosnoop, "block I/O requests as they complete, with latency", biosnoop_main,
               biosnoop_hooks);
