// tcppktlat: the latency between a TCP segment's arrival and its pick-up by a user thread,
// libbpf-tools' tcppktlat with its arguments and text output, on the classic tcp tracepoints,
// plus --json, -u, -c, filters in the kernel and a count of records lost.
#include "tcppktlat.skel.h"
#include "tcppktlat.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/inet_address.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <optional>
#include <string>

namespace {

using namespace coretrace;
using namespace std::chrono;

struct Options {
    CommonOptions common;
    pid_t pid = 0;
    pid_t tid = 0;
    std::optional<uid_t> uid;
    std::string cgroup;
    int lport = 0, rport = 0;
    long min_us = 0;
    long duration_s = 0;
    bool wide = false;
};

// The raw tracepoint first: the classic tcp_probe record names its socket only since 6.2.
constexpr std::string_view tcp_probe[] = {"raw_tp/tcp_probe", "tp/tcp/tcp_probe"};
constexpr std::string_view rcv_space_adjust[] = {"tp/tcp/tcp_rcv_space_adjust"};
constexpr std::string_view destroy_sock[] = {"tp/tcp/tcp_destroy_sock"};
constexpr hooks::EventHooks tcppktlat_hooks[] = {
    {"segment received", tcp_probe},
    {"data picked up by a thread", rcv_space_adjust},
    {"socket destroyed", destroy_sock},
};

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options), width_(options.wide ? 26 : 15) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.common.timestamp)
            std::printf("%-8s ", "TIME(s)");
        std::printf("%-7s %-7s %-16s %-*s %-5s %-*s %-5s %-s\n", "PID", "TID", "COMM", width_,
                    "LADDR", "LPORT", width_, "RADDR", "RPORT", "MS");
        std::fflush(stdout);
    }

    void print(const tcppktlat_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::string saddr = inet::format(event.family, event.saddr);
        const std::string daddr = inet::format(event.family, event.daddr);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);
        if (options_.common.json) {
            write_json_record({{"ts_ns", unix_ns},
                               {"pid", event.pid},
                               {"tid", event.tid},
                               {"comm", comm},
                               {"ip", inet::ip_version(event.family)},
                               {"laddr", saddr},
                               {"lport", event.sport},
                               {"raddr", daddr},
                               {"rport", event.dport},
                               {"latency_ns", event.delta_ns}});
            return;
        }
        if (options_.common.timestamp)
            std::printf("%-8s ", clock_time(unix_ns).c_str());
        std::printf("%-7u %-7u %-16s %-*s %-5u %-*s %-5u %-.2f\n", event.pid, event.tid,
                    comm.c_str(), width_, saddr.c_str(), event.sport, width_, daddr.c_str(),
                    event.dport, static_cast<double>(event.delta_ns) / 1e6);
    }

  private:
    const Options& options_;
    int width_;
    KernelClock clock_;
};

int run(const Options& options) {
    sys::require_bpf_privileges();
    TaskFilter filter;
    filter.tgid = options.pid;
    filter.tid = options.tid;
    filter.cgroup_path = options.cgroup;
    filter.uid = options.uid;
    filter.validate();
    StopSignals stop;

    auto skel = Skeleton<tcppktlat_bpf>::open();
    for (const auto& event : tcppktlat_hooks)
        hooks::prefer(skel.object(), event);
    skel->rodata->targ_sport = static_cast<__u16>(options.lport);
    skel->rodata->targ_dport = static_cast<__u16>(options.rport);
    skel->rodata->targ_min_ns = static_cast<__u64>(options.min_us) * 1000;
    run_events<tcppktlat_event, Printer>(
        skel, filter, stop, options.common,
        {.banner = "Tracing TCP packet pick-up latency... Hit Ctrl-C to end.",
         .duration = seconds(options.duration_s),
         .extra_lost = &skel->bss->dropped},
        options);
    return 0;
}

int tcppktlat_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace latency between TCP received pkt and picked up by userspace thread.\n"
        "Seen on tcp:tcp_probe and tcp:tcp_rcv_space_adjust; filters run in the kernel.\n\n"
        "USAGE: tcppktlat [-h] [-T] [-p PID] [-t TID] [-u UID] [-c CG] [-l LPORT] [-r RPORT]\n"
        "                 [-w] [-d DURATION] [--json] [min_us]\n\n"
        "EXAMPLES:\n"
        "    tcppktlat             # Trace all TCP packet picked up latency\n"
        "    tcppktlat -T          # summarize with timestamps\n"
        "    tcppktlat -p 181      # filter for pid\n"
        "    tcppktlat -t 181      # filter for tid\n"
        "    tcppktlat -l 80       # filter for local port\n"
        "    tcppktlat -r 80       # filter for remote port\n"
        "    tcppktlat 1000        # filter for latency higher than 1000us",
        "tcppktlat"};
    app.add_option("min_us", options.min_us, "Only latencies of at least this many us")
        ->check(positive_integer);
    app.add_option("-p,--pid", options.pid, "Process PID to trace")->check(positive_integer);
    app.add_option("-t,--tid", options.tid, "Thread TID to trace")->check(positive_integer);
    app.add_option("-u,--uid", options.uid, "User ID to trace")->check(user_id);
    app.add_option("-c,--cgroup", options.cgroup, "Trace processes in this cgroup v2 path only");
    app.add_option("-l,--lport", options.lport, "filter for local port")
        ->check(CLI::Range(1, 65535));
    app.add_option("-r,--rport", options.rport, "filter for remote port")
        ->check(CLI::Range(1, 65535));
    app.add_flag("-w,--wide", options.wide, "Wide column output (fits IPv6 addresses)");
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, true);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(tcppktlat, "latency from a TCP segment's arrival to its pick-up by a thread",
               tcppktlat_main, tcppktlat_hooks);
