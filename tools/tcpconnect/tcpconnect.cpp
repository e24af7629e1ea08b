// tcpconnect: active TCP connections (connect(2)) as they are made, libbpf-tools' tcpconnect
// with its flags and text output, on fexit/tcp_v4_connect and fexit/tcp_v6_connect where the
// kernel allows fentry, else on sock:inet_sock_set_state and connect(2)'s exit tracepoint, plus
// --json, -C CGROUP, every filter in the kernel, and a count of records lost.
#include "tcpconnect_setup.hpp"

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
#include <map>
#include <optional>
#include <string>
#include <tuple>

namespace {

using namespace coretrace;
using namespace std::chrono;

struct Options {
    CommonOptions common;
    pid_t pid = 0;
    std::optional<uid_t> uid;
    std::string ports;
    std::string cgroup;
    long duration_s = 0;
    bool timestamp = false, print_uid = false, count = false, source_port = false;
};

// -c: connects counted per local address, remote address, [local port,] remote port.
using FlowKey = std::tuple<std::string, std::string, int, int>;

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json || options_.count)
            return;
        if (options_.timestamp)
            std::printf("%-9s", "TIME(s)");
        if (options_.print_uid)
            std::printf("%-6s", "UID");
        std::printf("%-6s %-12s %-2s %-16s %-16s", "PID", "COMM", "IP", "SADDR", "DADDR");
        if (options_.source_port)
            std::printf(" %-5s", "SPORT");
        std::printf(" %-5s\n", "DPORT");
        std::fflush(stdout);
    }

    void print(const tcpconnect_event& event) {
        const std::string saddr = inet::format(event.family, event.saddr);
        const std::string daddr = inet::format(event.family, event.daddr);
        if (options_.count) {
            counts_[{saddr, daddr, options_.source_port ? event.sport : 0, event.dport}]++;
            return;
        }
        const std::string comm = fixed_string(event.comm);
        if (options_.common.json) {
            write_json_record({{"ts_ns", clock_.unix_ns(event.ts_ns)},
                               {"pid", event.pid},
                               {"tid", event.tid},
                               {"uid", event.uid},
                               {"comm", comm},
                               {"ip", inet::ip_version(event.family)},
                               {"saddr", saddr},
                               {"daddr", daddr},
                               {"sport", event.sport},
                               {"dport", event.dport}});
            return;
        }
        if (options_.timestamp) {
            if (!first_ts_)
                first_ts_ = event.ts_ns;
            std::printf("%-9.3f", static_cast<double>(event.ts_ns - first_ts_) / 1e9);
        }
        if (options_.print_uid)
            std::printf("%-6u", event.uid);
        std::printf("%-6u %-12.12s %-2d %-16s %-16s", event.pid, comm.c_str(),
                    inet::ip_version(event.family), saddr.c_str(), daddr.c_str());
        if (options_.source_port)
            std::printf(" %-5u", event.sport);
        std::printf(" %-5u\n", event.dport);
    }

    // -c: the table of counts, at the end.
    void finish() const {
        if (!options_.count)
            return;
        if (!options_.common.json) {
            std::printf("\n%-25s %-25s", "LADDR", "RADDR");
            if (options_.source_port)
                std::printf(" %-20s", "LPORT");
            std::printf(" %-20s %-10s\n", "RPORT", "CONNECTS");
        }
        for (const auto& [key, connects] : counts_) {
            const auto& [laddr, raddr, lport, rport] = key;
            if (options_.common.json) {
                nlohmann::json record = {{"type", "count"},
                                         {"laddr", laddr},
                                         {"raddr", raddr},
                                         {"rport", rport},
                                         {"connects", connects}};
                if (options_.source_port)
                    record["lport"] = lport;
                write_json_record(record);
                continue;
            }
            std::printf("%-25s %-25s", laddr.c_str(), raddr.c_str());
            if (options_.source_port)
                std::printf(" %-20d", lport);
            std::printf(" %-20d %-10llu\n", rport, static_cast<unsigned long long>(connects));
        }
        std::fflush(stdout);
    }

  private:
    const Options& options_;
    KernelClock clock_;
    std::uint64_t first_ts_ = 0;
    std::map<FlowKey, std::uint64_t> counts_;
};

int run(const Options& options) {
    sys::require_bpf_privileges();
    TaskFilter filter;
    filter.tgid = options.pid;
    filter.cgroup_path = options.cgroup;
    filter.uid = options.uid;
    filter.validate();
    StopSignals stop;

    auto skel = tcpconnect::open({options.ports});
    run_events<tcpconnect_event, Printer>(skel, filter, stop, options.common,
                                          {.banner = "Tracing connect ... Hit Ctrl-C to end",
                                           .duration = seconds(options.duration_s),
                                           .extra_lost = &skel->bss->dropped,
                                           .ring_bytes = ring_bytes_for_sparse_events},
                                          options);
    return 0;
}

int tcpconnect_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Count/Trace active TCP connections (connect(2)), IPv4 and IPv6.\n"
        "Seen on fexit/tcp_v4_connect and fexit/tcp_v6_connect where the kernel allows fentry\n"
        "(every connect that sent its SYN), else on sock:inet_sock_set_state (CLOSE->SYN_SENT)\n"
        "and connect(2)'s exit; every filter is applied in the kernel (-v: the hooks used).\n\n"
        "USAGE: tcpconnect [-h] [-t] [-U] [-c] [-s] [-p PID] [-u UID] [-P PORTS] [-C CG]\n"
        "                  [-d DURATION] [--json]\n\n"
        "EXAMPLES:\n"
        "    tcpconnect             # trace all TCP connect()s\n"
        "    tcpconnect -t          # include timestamps\n"
        "    tcpconnect -p 181      # only trace PID 181\n"
        "    tcpconnect -P 80       # only trace port 80\n"
        "    tcpconnect -P 80,81    # only trace port 80 and 81\n"
        "    tcpconnect -U          # include UID\n"
        "    tcpconnect -u 1000     # only trace UID 1000\n"
        "    tcpconnect -c          # count connects per src, dest, port\n"
        "    tcpconnect -C CG       # only trace processes in cgroup v2 directory CG\n"
        "    tcpconnect --json      # one JSON object per connect, and a summary at the end",
        "tcpconnect"};
    app.add_flag("-t,--timestamp", options.timestamp, "Include timestamp on output");
    app.add_flag("-c,--count", options.count, "Count connects per src ip and dst ip/port");
    app.add_flag("-U,--print-uid", options.print_uid, "Include UID on output");
    app.add_option("-p,--pid", options.pid, "Process PID to trace")->check(positive_integer);
    app.add_option("-u,--uid", options.uid, "Process UID to trace")->check(user_id);
    app.add_flag("-s,--source-port", options.source_port, "Consider source port when counting");
    app.add_option("-P,--port", options.ports, "Comma-separated list of destination ports to trace")
        ->check(inet::port_list(inet::max_ports));
    app.add_option("-C,--cgroup", options.cgroup, "Trace processes in this cgroup v2 path only");
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(tcpconnect, "active TCP connections (connect(2)), IPv4 and IPv6", tcpconnect_main,
               tcpconnect::hook_table);
