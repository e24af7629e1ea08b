// tcpconnlat: the latency of active TCP connects (SYN sent to established), libbpf-tools'
// tcpconnlat with its arguments and text output, on its function hooks (fentry tcp_v4_connect,
// tcp_v6_connect, fexit tcp_rcv_state_process) where the kernel allows fentry, else on
// sock:inet_sock_set_state, plus --json, -u, -c, every filter in the kernel, and a count of
// records lost.
#include "tcpconnlat.skel.h"
#include "tcpconnlat.h"

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
    std::optional<uid_t> uid;
    std::string cgroup;
    double min_ms = 0;
    long duration_s = 0;
    bool timestamp = false, lport = false;
};

// Two paths (hooks::prefer_path): the function hooks, with tcp:tcp_destroy_sock to
// forget the connects that never reach the end of their handshake, or sock:inet_sock_set_state
// alone (CLOSE->SYN_SENT starts, SYN_SENT->ESTABLISHED ends, both families). The first row decides.
constexpr std::string_view connect_v4[] = {"fentry/tcp_v4_connect", "tp/sock/inet_sock_set_state"};
constexpr std::string_view connect_v6[] = {"fentry/tcp_v6_connect", "tp/sock/inet_sock_set_state"};
constexpr std::string_view handshake_end[] = {"fexit/tcp_rcv_state_process",
                                              "tp/sock/inet_sock_set_state"};
constexpr std::string_view destroy[] = {"tp/tcp/tcp_destroy_sock"};
constexpr hooks::EventHooks tcpconnlat_hooks[] = {
    {"TCP connect over IPv4 (start)", connect_v4},
    {"TCP connect over IPv6 (start)", connect_v6},
    {"TCP handshake end (SYN_SENT->ESTABLISHED)", handshake_end},
    {"TCP socket destroyed (forget its start)", destroy, /*optional=*/false, hooks::Path::function},
};

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.timestamp)
            std::printf("%-9s ", "TIME(s)");
        std::printf("%-6s %-12s %-2s %-16s ", "PID", "COMM", "IP", "SADDR");
        if (options_.lport)
            std::printf("%-6s ", "LPORT");
        std::printf("%-16s %-5s %s\n", "DADDR", "DPORT", "LAT(ms)");
        std::fflush(stdout);
    }

    void print(const tcpconnlat_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::string saddr = inet::format(event.family, event.saddr);
        const std::string daddr = inet::format(event.family, event.daddr);
        if (options_.common.json) {
            write_json_record({{"ts_ns", clock_.unix_ns(event.ts_ns)},
                               {"pid", event.pid},
                               {"tid", event.tid},
                               {"comm", comm},
                               {"ip", inet::ip_version(event.family)},
                               {"saddr", saddr},
                               {"lport", event.sport},
                               {"daddr", daddr},
                               {"dport", event.dport},
                               {"latency_ns", event.delta_ns}});
            return;
        }
        if (options_.timestamp) {
            if (!first_ts_)
                first_ts_ = event.ts_ns;
            std::printf("%-9.3f ", static_cast<double>(event.ts_ns - first_ts_) / 1e9);
        }
        std::printf("%-6u %-12.12s %-2d %-16s ", event.pid, comm.c_str(),
                    inet::ip_version(event.family), saddr.c_str());
        if (options_.lport)
            std::printf("%-6u ", event.sport);
        std::printf("%-16s %-5u %.2f\n", daddr.c_str(), event.dport,
                    static_cast<double>(event.delta_ns) / 1e6);
    }

  private:
    const Options& options_;
    KernelClock clock_;
    std::uint64_t first_ts_ = 0;
};

int run(const Options& options) {
    sys::require_bpf_privileges();
    TaskFilter filter;
    filter.tgid = options.pid;
    filter.cgroup_path = options.cgroup;
    filter.uid = options.uid;
    filter.validate();
    StopSignals stop;

    auto skel = Skeleton<tcpconnlat_bpf>::open();
    hooks::prefer_path(skel.object(), tcpconnlat_hooks);
    skel->rodata->targ_min_ns = static_cast<__u64>(options.min_ms * 1e6);
    run_events<tcpconnlat_event, Printer>(
        skel, filter, stop, options.common,
        {.banner = "Tracing connect latency... Hit Ctrl-C to end.",
         .duration = seconds(options.duration_s),
         .extra_lost = &skel->bss->dropped,
         .ring_bytes = ring_bytes_for_sparse_events},
        options);
    return 0;
}

int tcpconnlat_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace TCP connects and show connection latency (SYN sent to established).\n"
        "Seen on fentry tcp_v4_connect/tcp_v6_connect and fexit tcp_rcv_state_process where\n"
        "the kernel allows fentry, else on sock:inet_sock_set_state; every filter is applied\n"
        "in the kernel (-v: the hooks used).\n\n"
        "USAGE: tcpconnlat [-h] [-t] [-L] [-p PID] [-u UID] [-c CG] [-d DURATION] [--json]\n"
        "                  [min_ms]\n\n"
        "EXAMPLES:\n"
        "    tcpconnlat              # trace all TCP connects\n"
        "    tcpconnlat 1            # trace connection latency slower than 1 ms\n"
        "    tcpconnlat 0.1          # trace connection latency slower than 100 us\n"
        "    tcpconnlat -t           # include timestamps\n"
        "    tcpconnlat -p 185       # trace PID 185 only\n"
        "    tcpconnlat -L           # include LPORT while printing outputs\n"
        "    tcpconnlat --json       # one JSON object per connect, and a summary",
        "tcpconnlat"};
    app.add_option("min_ms", options.min_ms, "Only connects at least this slow, in ms")
        ->check(positive_number);
    app.add_flag("-t,--timestamp", options.timestamp, "Include timestamp on output");
    app.add_flag("-L,--lport", options.lport, "Include LPORT on output");
    app.add_option("-p,--pid", options.pid, "Trace this PID only")->check(positive_integer);
    app.add_option("-u,--uid", options.uid, "Trace this UID only")->check(user_id);
    app.add_option("-c,--cgroup", options.cgroup, "Trace processes in this cgroup v2 path only");
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(tcpconnlat, "latency of active TCP connects (SYN sent to established)",
               tcpconnlat_main, tcpconnlat_hooks);
