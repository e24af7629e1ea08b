// gethostlatency: the latency of host name lookups (getaddrinfo, gethostbyname, gethostbyname2
// in libc), libbpf-tools' gethostlatency with its flags and text output, plus --json, the
// lookup's function and result, -d, and lost records counted.
#include "gethostlatency.skel.h"
#include "gethostlatency.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/link.hpp"
#include "coretrace/log.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"
#include "coretrace/uprobe_target.hpp"

#include <array>
#include <fmt/format.h>
#include <string>
#include <vector>

namespace {

using namespace coretrace;
using namespace std::chrono;

// Indexed by enum gethostlatency_function. getaddrinfo() is required; the other two are traced
// where the C library has them.
constexpr std::array<const char*, GETHOSTLATENCY_FUNCTIONS> kFunctions = {
    "getaddrinfo", "gethostbyname", "gethostbyname2"};

struct Options {
    CommonOptions common;
    TaskFilter filter;
    std::string libc; // -l: the C library; default: libc.so.6 (that of -p PID if given)
    long duration_s = 0;
};

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        std::printf("%-8s %-7s %-16s %-10s %-s\n", "TIME", "PID", "COMM", "LATms", "HOST");
        std::fflush(stdout);
    }

    void print(const gethostlatency_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::string host = fixed_string(event.host);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);
        const char* function =
            event.function < kFunctions.size() ? kFunctions[event.function] : "unknown";
        if (options_.common.json) {
            nlohmann::json record{{"ts_ns", unix_ns},     {"pid", event.pid},
                                  {"tid", event.tid},     {"comm", comm},
                                  {"function", function}, {"latency_ns", event.latency_ns},
                                  {"host", host},         {"host_truncated", event.truncated != 0}};
            if (event.function == GETHOSTLATENCY_GETADDRINFO)
                record["error"] = event.ret; // 0 on success, an EAI_* code otherwise
            else
                record["found"] = event.ret != 0;
            write_json_record(record);
            return;
        }
        std::printf("%-8s %-7u %-16s %-10.3f %-s%s\n", clock_time(unix_ns).c_str(), event.pid,
                    comm.c_str(), static_cast<double>(event.latency_ns) / 1e6, host.c_str(),
                    event.truncated ? "..." : "");
    }

  private:
    const Options& options_;
    KernelClock clock_;
};

// Where each function is: getaddrinfo() must be found (else a one-line error); the others are
// left out when this C library lacks them.
std::vector<std::pair<std::uint32_t, uprobe::Target>> resolve_functions(const Options& options,
                                                                        pid_t pid) {
    std::vector<std::pair<std::uint32_t, uprobe::Target>> targets;
    for (std::uint32_t i = 0; i < kFunctions.size(); i++) {
        uprobe::Spec spec;
        spec.binary = options.libc.empty() ? "libc" : options.libc;
        spec.function = kFunctions[i];
        try {
            targets.emplace_back(i, uprobe::resolve(spec, pid));
        } catch (const Error& error) {
            if (i == GETHOSTLATENCY_GETADDRINFO)
                throw;
            log::debug("not tracing {}: {}", spec.function, error.what());
        }
    }
    return targets;
}

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    const pid_t pid = options.filter.tgid ? options.filter.tgid : -1;
    const auto targets = resolve_functions(options, pid);
    StopSignals stop;

    auto skel = Skeleton<gethostlatency_bpf>::open();
    bpf_program__set_autoattach(skel->progs.lookup_entry, false);
    bpf_program__set_autoattach(skel->progs.lookup_return, false);
    options.filter.configure(skel->rodata);
    EventStream::prepare(skel);
    skel.load();
    options.filter.install(skel->maps.ct_cgroup_filter);
    Printer printer(options);
    auto stream = EventStream::of<gethostlatency_event>(
        skel, [&printer](const gethostlatency_event& event) { printer.print(event); });
    // Declared after the skeleton and the stream, so destroyed (detached) first. The returns
    // first, so that no lookup is started whose return would be missed.
    std::vector<Link> links;
    for (const auto& [function, target] : targets)
        links.push_back(uprobe::attach(skel->progs.lookup_return, target, true, function));
    for (const auto& [function, target] : targets)
        links.push_back(uprobe::attach(skel->progs.lookup_entry, target, false, function));

    std::string traced;
    for (const auto& [function, target] : targets)
        traced += fmt::format("{}{}", traced.empty() ? "" : ", ", kFunctions[function]);
    announce(options.common,
             fmt::format("Tracing getaddrinfo/gethostbyname calls ({} in {})... Hit Ctrl-C to end.",
                         traced, targets.front().second.path));
    printer.header();
    pump_events(*stream, stop, seconds(options.duration_s));
    links.clear();
    finish_events(*stream, options.common, skel->bss->starts_dropped,
                  recursion_misses(skel.object()));
    return 0;
}

int gethostlatency_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Show latency for getaddrinfo/gethostbyname[2] calls: uprobes at their entry and\n"
                 "uretprobes at their return in the C library.\n\n"
                 "USAGE: gethostlatency [-h] [-p PID] [-l LIBC] [-d DURATION] [--json]\n\n"
                 "EXAMPLES:\n"
                 "    gethostlatency             # time getaddrinfo/gethostbyname[2] calls\n"
                 "    gethostlatency -p 1216     # only trace PID 1216\n"
                 "    gethostlatency -l /usr/lib/x86_64-linux-gnu/libc.so.6   # this C library\n"
                 "    gethostlatency --json      # one JSON object per lookup",
                 "gethostlatency"};
    add_pid_option(app, options.filter, "Process ID to trace");
    app.add_option("-l,--libc", options.libc, "Specify which libc.so to use (a path or a name)");
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(gethostlatency, "latency of getaddrinfo/gethostbyname calls, with the host",
               gethostlatency_main);
