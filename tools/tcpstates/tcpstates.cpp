// tcpstates: TCP state changes with the time spent in each state, libbpf-tools' tcpstates with
// its flags and text output, plus --json, the owner of a passive socket seen at accept(2), every
// filter in the kernel, and a count of records lost.
#include "tcpstates.skel.h"
#include "tcpstates.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/inet_address.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

#include <fmt/format.h>
#include <string>
#include <sys/socket.h>

namespace {

using namespace coretrace;
using namespace std::chrono;

struct Options {
    CommonOptions common;
    bool ipv4 = false, ipv6 = false, wide = false;
    std::string local_ports, remote_ports;
    long duration_s = 0;
};

constexpr std::string_view state_change[] = {"tp/sock/inet_sock_set_state"};
constexpr std::string_view accept4_exit[] = {"tp/syscalls/sys_exit_accept4"};
constexpr std::string_view accept_exit[] = {"tp/syscalls/sys_exit_accept"};
constexpr hooks::EventHooks tcpstates_hooks[] = {
    {"TCP state change", state_change},
    {"accept4(2) exit (owner of a passive socket)", accept4_exit},
    {"accept(2) exit (owner of a passive socket)", accept_exit},
};

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.common.timestamp)
            std::printf("%-8s ", "TIME(s)");
        if (options_.wide)
            std::printf("%-16s %-7s %-16s %-2s %-26s %-5s %-26s %-5s %-11s -> %-11s %s\n", "SKADDR",
                        "PID", "COMM", "IP", "LADDR", "LPORT", "RADDR", "RPORT", "OLDSTATE",
                        "NEWSTATE", "MS");
        else
            std::printf("%-16s %-7s %-10s %-15s %-5s %-15s %-5s %-11s -> %-11s %s\n", "SKADDR",
                        "PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "OLDSTATE", "NEWSTATE",
                        "MS");
        std::fflush(stdout);
    }

    void print(const tcpstates_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::string saddr = inet::format(event.family, event.saddr);
        const std::string daddr = inet::format(event.family, event.daddr);
        const char* oldstate = inet::tcp_state_name(event.oldstate);
        const char* newstate = inet::tcp_state_name(event.newstate);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);
        const double ms = static_cast<double>(event.delta_ns) / 1e6;
        if (options_.common.json) {
            write_json_record({{"ts_ns", unix_ns},
                               {"skaddr", fmt::format("{:x}", event.skaddr)},
                               {"pid", event.pid},
                               {"comm", comm},
                               {"owner_known", event.owner_known != 0},
                               {"ip", inet::ip_version(event.family)},
                               {"laddr", saddr},
                               {"lport", event.sport},
                               {"raddr", daddr},
                               {"rport", event.dport},
                               {"oldstate", oldstate},
                               {"newstate", newstate},
                               {"delta_ns", event.delta_ns}});
            return;
        }
        if (options_.common.timestamp)
            std::printf("%8s ", clock_time(unix_ns).c_str());
        if (options_.wide)
            std::printf("%-16llx %-7u %-16s %-2d %-26s %-5u %-26s %-5u %-11s -> %-11s %.3f\n",
                        static_cast<unsigned long long>(event.skaddr), event.pid, comm.c_str(),
                        inet::ip_version(event.family), saddr.c_str(), event.sport, daddr.c_str(),
                        event.dport, oldstate, newstate, ms);
        else
            std::printf("%-16llx %-7u %-10.10s %-15s %-5u %-15s %-5u %-11s -> %-11s %.3f\n",
                        static_cast<unsigned long long>(event.skaddr), event.pid, comm.c_str(),
                        saddr.c_str(), event.sport, daddr.c_str(), event.dport, oldstate, newstate,
                        ms);
    }

  private:
    const Options& options_;
    KernelClock clock_;
};

int run(const Options& options) {
    sys::require_bpf_privileges();
    StopSignals stop;

    auto skel = Skeleton<tcpstates_bpf>::open();
    for (const auto& event : tcpstates_hooks)
        hooks::prefer(skel.object(), event);
    skel->rodata->targ_family = options.ipv4 ? AF_INET : options.ipv6 ? AF_INET6 : 0;
    inet::store_ports(options.local_ports, skel->rodata->targ_sports,
                      skel->rodata->targ_sports_len);
    inet::store_ports(options.remote_ports, skel->rodata->targ_dports,
                      skel->rodata->targ_dports_len);
    run_events<tcpstates_event, Printer>(
        skel, stop, options.common,
        {.banner = "Tracing TCP state changes... Hit Ctrl-C to end.",
         .duration = seconds(options.duration_s),
         .extra_lost = &skel->bss->dropped,
         .ring_bytes = ring_bytes_for_sparse_events},
        options);
    return 0;
}

int tcpstates_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace TCP session state changes and durations.\n"
        "Seen on sock:inet_sock_set_state; PID/COMM are the socket's owner when known (its\n"
        "connect, accept or close was seen), else the task current at the change.\n\n"
        "USAGE: tcpstates [-h] [-4] [-6] [-T] [-w] [-L LPORTS] [-D RPORTS] [-d DURATION]\n"
        "                 [--json]\n\n"
        "EXAMPLES:\n"
        "    tcpstates                  # trace all TCP state changes\n"
        "    tcpstates -T               # include timestamps\n"
        "    tcpstates -L 80            # only trace local port 80\n"
        "    tcpstates -D 80            # only trace remote port 80\n"
        "    tcpstates --json           # one JSON object per change, and a summary",
        "tcpstates"};
    auto* v4 = app.add_flag("-4,--ipv4", options.ipv4, "Trace IPv4 family only");
    app.add_flag("-6,--ipv6", options.ipv6, "Trace IPv6 family only")->excludes(v4);
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

CORETRACE_TOOL(tcpstates, "TCP state changes and the time spent in each state", tcpstates_main,
               tcpstates_hooks);
