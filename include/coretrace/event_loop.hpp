// The life of an event tool from load to exit: records are delivered until a stop signal (SIGINT,
// SIGTERM, SIGHUP) or the end of -d; after the programs detach, the last records are drained and
// the loss is reported, never silent: "N events lost" on stderr and, with --json, a summary.
#pragma once

#include "coretrace/event_stream.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <chrono>
#include <cstdint>
#include <linux/types.h>
#include <string>
#include <utility>

namespace coretrace {

// Polls `stream` (100 ms at most between drains, flushing stdout after each) until a stop signal
// or `duration` has passed (zero: no limit).
void pump_events(EventStream& stream, StopSignals& stop, std::chrono::seconds duration = {});

// Call after detaching: delivers what is left, then reports the records delivered and lost
// (`extra_lost`: records the tool's own BPF code could not follow, e.g. a full start map) and,
// when there are any, the events never seen (`skipped_runs`: runs of the tool's programs the
// kernel skipped because a BPF program was already running on that CPU, as when a softirq's
// tracepoint fires inside a syscall's program). Returns the total lost.
std::uint64_t finish_events(EventStream& stream, const CommonOptions& common,
                            std::uint64_t extra_lost = 0, std::uint64_t skipped_runs = 0);

// What differs between event tools in run_events.
struct EventRun {
    std::string banner;                         // the announce() line
    std::chrono::seconds duration{};            // -d; zero: until a stop signal
    const volatile __u64* extra_lost = nullptr; // a BPF counter for finish_events' extra_lost
    std::uint32_t ring_bytes = ring_bytes_for_bursts;
};

// The run of an event tool whose skeleton is loaded: makes its Printer from `printer_args` (a
// Printer made here sees the time after load), streams each Record to printer.print(record),
// attaches, announces, prints printer.header(), then pumps and detaches. A Printer with a
// finish() (totals, say) gets it once the last records are in, before the loss summary, which
// is the last line of --json output.
template <typename Record, typename Printer, typename Bpf, typename... PrinterArgs>
void stream_loaded_events(Skeleton<Bpf>& skel, StopSignals& stop, const CommonOptions& common,
                          const EventRun& run, PrinterArgs&&... printer_args) {
    Printer printer(std::forward<PrinterArgs>(printer_args)...);
    auto stream =
        EventStream::of<Record>(skel, [&printer](const Record& record) { printer.print(record); });
    skel.attach();
    announce(common, run.banner);
    printer.header();
    pump_events(*stream, stop, run.duration);
    skel.detach();
    if constexpr (requires { printer.finish(); }) {
        stream->poll(std::chrono::milliseconds(0));
        printer.finish();
    }
    finish_events(*stream, common, run.extra_lost ? *run.extra_lost : 0,
                  recursion_misses(skel.object()));
}

// The run of an event tool whose skeleton is open and configured, its hooks chosen: sets the
// filter's .rodata, sizes the ring, loads, installs the filter, then stream_loaded_events.
template <typename Record, typename Printer, typename Bpf, typename... PrinterArgs>
void run_events(Skeleton<Bpf>& skel, const TaskFilter& filter, StopSignals& stop,
                const CommonOptions& common, const EventRun& run, PrinterArgs&&... printer_args) {
    filter.configure(skel->rodata);
    EventStream::prepare(skel, run.ring_bytes);
    skel.load();
    filter.install(skel->maps.ct_cgroup_filter);
    stream_loaded_events<Record, Printer>(skel, stop, common, run,
                                          std::forward<PrinterArgs>(printer_args)...);
}

// The same for a tool without the library's task filter (its BPF side filters by itself).
template <typename Record, typename Printer, typename Bpf, typename... PrinterArgs>
void run_events(Skeleton<Bpf>& skel, StopSignals& stop, const CommonOptions& common,
                const EventRun& run, PrinterArgs&&... printer_args) {
    EventStream::prepare(skel, run.ring_bytes);
    skel.load();
    stream_loaded_events<Record, Printer>(skel, stop, common, run,
                                          std::forward<PrinterArgs>(printer_args)...);
}

} // namespace coretrace
