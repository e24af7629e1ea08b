// javagc: the time each garbage collection of a running HotSpot JVM takes, libbpf-tools' javagc
// with its flags and text output, plus --json (thread, full or not, nanoseconds), -d, and lost
// records counted. USDT probes hotspot:gc__begin and hotspot:gc__end in the libjvm.so that
// process -p PID maps.
#include "javagc.skel.h"
#include "javagc.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/link.hpp"
#include "coretrace/process_maps.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"
#include "coretrace/usdt_target.hpp"

#include <fmt/format.h>
#include <string>
#include <vector>

namespace {

using namespace coretrace;
using namespace std::chrono;

constexpr const char* kLibjvm = "libjvm.so";

struct Options {
    CommonOptions common;
    TaskFilter filter;
    long threshold_us = 1000; // -t, as libbpf-tools: 1 ms
    long duration_s = 0;
};

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        std::printf("%-8s %-7s %-7s %-7s\n", "TIME", "CPU", "PID", "GC TIME");
        std::fflush(stdout);
    }

    void print(const javagc_event& event) {
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);
        if (options_.common.json) {
            write_json_record({{"ts_ns", unix_ns},
                               {"pid", event.pid},
                               {"tid", event.tid},
                               {"comm", fixed_string(event.comm)},
                               {"cpu", event.cpu},
                               {"full", event.full != 0},
                               {"duration_ns", event.duration_ns}});
            return;
        }
        // GC TIME in microseconds, as libbpf-tools prints it.
        std::printf("%-8s %-7u %-7u %-7llu\n", clock_time(unix_ns).c_str(), event.cpu, event.pid,
                    static_cast<unsigned long long>(event.duration_ns / 1000));
    }

  private:
    const Options& options_;
    KernelClock clock_;
};

// The libjvm.so the JVM maps; a process without one is not a HotSpot JVM.
std::string find_libjvm(pid_t pid) {
    auto path = proc::find_mapped_file(pid, kLibjvm);
    if (!path)
        throw Error(fmt::format("process {} maps no {}: is it a HotSpot JVM?", pid, kLibjvm));
    return *path;
}

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    const pid_t pid = options.filter.tgid;
    const std::string libjvm = find_libjvm(pid);
    const auto begin = usdt::find({"hotspot", "gc__begin"}, libjvm, pid);
    const auto end = usdt::find({"hotspot", "gc__end"}, libjvm, pid);
    StopSignals stop;

    auto skel = Skeleton<javagc_bpf>::open();
    bpf_program__set_autoattach(skel->progs.gc_begin, false);
    bpf_program__set_autoattach(skel->progs.gc_end, false);
    skel->rodata->targ_min_ns = static_cast<__u64>(options.threshold_us) * 1000;
    EventStream::prepare(skel);
    skel.load();
    Printer printer(options);
    auto stream = EventStream::of<javagc_event>(
        skel, [&printer](const javagc_event& event) { printer.print(event); });
    // Destroyed before the skeleton and the stream (declared after them): a USDT link updates
    // the object's maps when it goes. The end first, so that no begin is missed its end.
    std::vector<Link> links;
    for (const auto& location : end)
        links.push_back(usdt::attach(skel->progs.gc_end, location, {"hotspot", "gc__end"}, pid));
    for (const auto& location : begin)
        links.push_back(
            usdt::attach(skel->progs.gc_begin, location, {"hotspot", "gc__begin"}, pid));

    announce(options.common, fmt::format("Tracing garbage collections of process {} ({})... "
                                         "Hit Ctrl-C to end.",
                                         pid, libjvm));
    printer.header();
    pump_events(*stream, stop, seconds(options.duration_s));
    links.clear();
    finish_events(*stream, options.common, skel->bss->starts_dropped,
                  recursion_misses(skel.object()));
    return 0;
}

int javagc_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Monitor the time Java garbage collections take: USDT probes hotspot:gc__begin and\n"
        "hotspot:gc__end in the libjvm.so of one running JVM. Whole collections only: the\n"
        "hotspot:mem__pool__gc__begin/end probes libbpf-tools also attaches are not used.\n\n"
        "USAGE: javagc [-h] -p PID [-t GC time] [-d DURATION] [--json]\n\n"
        "EXAMPLES:\n"
        "    javagc -p 185            # trace PID 185\n"
        "    javagc -p 185 -t 100     # only collections longer than 100 us\n"
        "    javagc -p 185 --json     # one JSON object per collection",
        "javagc"};
    add_pid_option(app, options.filter, "Trace this JVM process (required)")->required();
    app.add_option("-t,--time", options.threshold_us,
                   "Only collections lasting at least this many microseconds (default 1000)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(javagc, "time of each garbage collection of a HotSpot JVM (USDT)", javagc_main);
