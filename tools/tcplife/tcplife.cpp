// tcplife: TCP sessions as they close, with their owner, addresses, ports, bytes and lifespan:
// libbpf-tools' tcplife with its flags and text output, plus --json, an owner seen at accept(2)
// for passive sockets, every filter in the kernel, and a count of records lost.
#include "tcplife_setup.hpp"

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

#include <fmt/format.h>
#include <string>
#include <sys/socket.h>

namespace {

using namespace coretrace;
using namespace std::chrono;

struct Options {
    CommonOptions common;
    pid_t pid = 0;
    bool ipv4 = false, ipv6 = false, wide = false;
    std::string local_ports, remote_ports;
    long duration_s = 0;
};

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options), width_(options.wide ? 39 : 15) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.common.timestamp)
            std::printf("%-8s ", "TIME(s)");
        std::printf("%-7s %-16s %-*s %-5s %-*s %-5s %-6s %-6s %-s\n", "PID", "COMM", width_,
                    "LADDR", "LPORT", width_, "RADDR", "RPORT", "TX_KB", "RX_KB", "MS");
        std::fflush(stdout);
    }

    void print(const tcplife_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::string saddr = inet::format(event.family, event.saddr);
        const std::string daddr = inet::format(event.family, event.daddr);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);
        if (options_.common.json) {
            write_json_record({{"ts_ns", unix_ns},
                               {"pid", event.pid},
                               {"comm", comm},
                               {"owner_known", event.owner_known != 0},
                               {"ip", inet::ip_version(event.family)},
                               {"laddr", saddr},
                               {"lport", event.sport},
                               {"raddr", daddr},
                               {"rport", event.dport},
                               {"tx_bytes", event.tx_bytes},
                               {"rx_bytes", event.rx_bytes},
                               {"span_ns", event.span_ns}});
            return;
        }
        if (options_.common.timestamp)
            std::printf("%8s ", clock_time(unix_ns).c_str());
        std::printf("%-7u %-16s %-*s %-5u %-*s %-5u %-6.2f %-6.2f %-.2f\n", event.pid, comm.c_str(),
                    width_, saddr.c_str(), event.sport, width_, daddr.c_str(), event.dport,
                    static_cast<double>(event.tx_bytes) / 1024,
                    static_cast<double>(event.rx_bytes) / 1024,
                    static_cast<double>(event.span_ns) / 1e6);
    }

  private:
    const Options& options_;
    int width_;
    KernelClock clock_;
};

int run(const Options& options) {
    sys::require_bpf_privileges();
    if (options.pid)
        sys::require_process(options.pid);
    StopSignals stop;

    auto skel = tcplife::open({options.pid,
                               options.ipv4   ? AF_INET
                               : options.ipv6 ? AF_INET6
                                              : 0,
                               options.local_ports, options.remote_ports});
    run_events<tcplife_event, Printer>(skel, stop, options.common,
                                       {.banner = "Tracing TCP sessions... Hit Ctrl-C to end.",
                                        .duration = seconds(options.duration_s),
                                        .extra_lost = &skel->bss->dropped,
                                        .ring_bytes = ring_bytes_for_sparse_events},
                                       options);
    return 0;
}

int tcplife_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace the lifespan of TCP sessions and summarize.\n"
        "Seen on sock:inet_sock_set_state; the owner of a passive socket is the task that\n"
        "accepted it. Every filter is applied in the kernel.\n\n"
        "USAGE: tcplife [-h] [-p PID] [-4] [-6] [-L LPORTS] [-D RPORTS] [-T] [-w]\n"
        "               [-d DURATION] [--json]\n\n"
        "EXAMPLES:\n"
        "    tcplife -p 1215             # only trace PID 1215\n"
        "    tcplife -p 1215 -4          # trace IPv4 only\n"
        "    tcplife -L 80,443           # only sessions on local port 80 or 443\n"
        "    tcplife --json              # one JSON object per session, and a summary",
        "tcplife"};
    app.add_option("-p,--pid", options.pid, "Process ID to trace")->check(positive_integer);
    auto* v4 = app.add_flag("-4,--ipv4", options.ipv4, "Trace IPv4 only");
    app.add_flag("-6,--ipv6", options.ipv6, "Trace IPv6 only")->excludes(v4);
    app.add_flag("-w,--wide", options.wide, "Wide column output (fits IPv6 addresses)");
    app.add_option("-L,--localport", options.local_ports,
                   "Comma-separated list of local ports to trace")
        ->check(inet::port_list(inet::max_ports));
    app.add_option("-D,--remoteport", options.remote_ports,
                   "Comma-separated list of remote ports to trace")
        ->check(inet::port_list(inet::max_ports));
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, true);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(tcplife, "TCP sessions as they close: owner, ports, bytes, lifespan", tcplife_main,
               tcplife::hook_table);
