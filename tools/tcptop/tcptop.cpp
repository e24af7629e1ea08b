// tcptop: the top TCP connections by traffic, refreshed every interval: libbpf-tools' tcptop
// with its flags and text output, counted on libbpf-tools' tcp_sendmsg / tcp_cleanup_rbuf where
// fentry/fexit or kprobes work and on sock:sock_send_length / sock_recv_length otherwise, plus
// --json, -u, and the transfers the map could not count reported.
#include "tcptop.skel.h"
#include "tcptop.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/inet_address.hpp"
#include "coretrace/map.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <sys/socket.h>

namespace {

using namespace coretrace;
using namespace std::chrono;

constexpr long rows_limit = 10240;

struct Options {
    CommonOptions common;
    pid_t pid = 0;
    std::optional<uid_t> uid;
    std::string cgroup;
    bool ipv4 = false, ipv6 = false, no_summary = false, no_clear = false;
    std::string sort = "all";
    long rows = 20;
    long interval_s = 1;
    long count = 0;
};

// Each direction on its own: the function hooks and the tracepoints count the same bytes in the
// same task, so a kernel may take one kind for sending and the other for receiving.
constexpr std::string_view send_length[] = {"fexit/tcp_sendmsg", "kprobe/tcp_sendmsg",
                                            "tp/sock/sock_send_length"};
constexpr std::string_view recv_length[] = {"fentry/tcp_cleanup_rbuf", "kprobe/tcp_cleanup_rbuf",
                                            "tp/sock/sock_recv_length"};
constexpr hooks::EventHooks tcptop_hooks[] = {
    {"socket send (bytes)", send_length},
    {"socket receive (bytes)", recv_length},
};

using Row = std::pair<tcptop_key, tcptop_traffic>;

// libbpf-tools' order: IPv4 before IPv6, then the most bytes first (sent, received, or both).
void sort_rows(std::vector<Row>& rows, const std::string& by) {
    auto weight = [&by](const tcptop_traffic& t) {
        return by == "sent" ? t.sent : by == "received" ? t.received : t.sent + t.received;
    };
    std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
        if (a.first.family != b.first.family)
            return a.first.family < b.first.family;
        return weight(a.second) > weight(b.second);
    });
}

void report(const Options& options, HashMap<tcptop_key, tcptop_traffic>& traffic,
            std::uint64_t dropped) {
    auto rows = traffic.items();
    for (const auto& [key, value] : rows)
        traffic.erase(key);
    sort_rows(rows, options.sort);
    if (static_cast<long>(rows.size()) > options.rows)
        rows.resize(options.rows);

    if (options.common.json) {
        auto connections = nlohmann::json::array();
        for (const auto& [key, value] : rows)
            connections.push_back({{"pid", key.pid},
                                   {"comm", fixed_string(key.comm)},
                                   {"ip", inet::ip_version(key.family)},
                                   {"laddr", inet::format(key.family, key.saddr)},
                                   {"lport", key.lport},
                                   {"raddr", inet::format(key.family, key.daddr)},
                                   {"rport", key.dport},
                                   {"rx_bytes", value.received},
                                   {"tx_bytes", value.sent}});
        emit_json_line(nlohmann::json{
            {"time_unix_ns", unix_time_ns()},
            {"connections", std::move(connections)},
            {"not_counted",
             dropped}}.dump());
        return;
    }
    std::string out;
    if (!options.no_clear)
        out += "\033[H\033[2J";
    if (!options.no_summary) {
        std::string loadavg;
        try {
            loadavg = sys::read_first_line("/proc/loadavg");
        } catch (const Error&) {
        }
        if (!loadavg.empty())
            out += fmt::format("{:>8} loadavg: {}\n\n", clock_time(), loadavg);
    }
    const int pid_width = std::max<int>(6, static_cast<int>(std::to_string(sys::pid_max()).size()));
    out += fmt::format("{:<{}} {:<12} {:<21} {:<21} {:>6} {:>6}\n", "PID", pid_width, "COMM",
                       "LADDR", "RADDR", "RX_KB", "TX_KB");
    bool ipv6_header = false;
    for (const auto& [key, value] : rows) {
        int width = 21;
        if (key.family == AF_INET6) {
            width = 51;
            if (!ipv6_header) {
                out += fmt::format("\n{:<{}} {:<12} {:<51} {:<51} {:>6} {:>6}\n", "PID", pid_width,
                                   "COMM", "LADDR6", "RADDR6", "RX_KB", "TX_KB");
                ipv6_header = true;
            }
        }
        std::string comm = fixed_string(key.comm).substr(0, 12);
        out +=
            fmt::format("{:<{}} {:<12} {:<{}} {:<{}} {:>6} {:>6}\n", key.pid, pid_width, comm,
                        fmt::format("{}:{}", inet::format(key.family, key.saddr), key.lport), width,
                        fmt::format("{}:{}", inet::format(key.family, key.daddr), key.dport), width,
                        value.received / 1024, value.sent / 1024);
    }
    out += "\n";
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(const Options& options) {
    sys::require_bpf_privileges();
    TaskFilter filter;
    filter.tgid = options.pid;
    filter.cgroup_path = options.cgroup;
    filter.uid = options.uid;
    filter.validate();
    StopSignals stop;

    auto skel = Skeleton<tcptop_bpf>::open();
    for (const auto& event : tcptop_hooks)
        hooks::prefer(skel.object(), event);
    filter.configure(skel->rodata);
    skel->rodata->targ_family = options.ipv4 ? AF_INET : options.ipv6 ? AF_INET6 : 0;
    skel.load();
    filter.install(skel->maps.ct_cgroup_filter);
    HashMap<tcptop_key, tcptop_traffic> traffic(skel->maps.traffic);
    skel.attach();

    announce(options.common, "Tracing TCP traffic... Hit Ctrl-C to end.");
    Pacing pacing;
    pacing.interval = seconds(options.interval_s);
    if (options.count)
        pacing.count = options.count;
    pacing.run(stop, [&] { report(options, traffic, skel->bss->dropped); });
    return 0;
}

int tcptop_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Summarize the top active TCP sessions - like top, but for TCP.\n"
        "Counted at tcp_sendmsg's return and tcp_cleanup_rbuf (fexit/fentry, else kprobes) where\n"
        "the kernel allows them, as libbpf-tools; otherwise on sock:sock_send_length /\n"
        "sock_recv_length (6.3+), which miss data that skips sock_sendmsg/sock_recvmsg (splice\n"
        "from a socket, sendfile before 6.5, zero-copy receive). Every filter is applied in the\n"
        "kernel.\n\n"
        "USAGE: tcptop [-h] [-p PID] [-u UID] [-c CG] [-4|-6] [-S] [-C] [-s SORT] [-r ROWS]\n"
        "              [--json] [interval] [count]\n\n"
        "EXAMPLES:\n"
        "    tcptop            # TCP top, refresh every 1s\n"
        "    tcptop -p 1216    # only trace PID 1216\n"
        "    tcptop -c path    # only trace the given cgroup path\n"
        "    tcptop 5 10       # 5s summaries, 10 times\n"
        "    tcptop --json 1 3 # three 1-second summaries as JSON Lines",
        "tcptop"};
    app.add_option("interval", options.interval_s, "Seconds between reports (default 1)")
        ->check(positive_integer);
    app.add_option("count", options.count, "Number of reports")->check(positive_integer);
    app.add_option("-p,--pid", options.pid, "Process ID to trace")->check(positive_integer);
    app.add_option("-u,--uid", options.uid, "User ID to trace")->check(user_id);
    app.add_option("-c,--cgroup", options.cgroup, "Trace process in cgroup v2 path");
    auto* v4 = app.add_flag("-4,--ipv4", options.ipv4, "trace IPv4 family only");
    app.add_flag("-6,--ipv6", options.ipv6, "trace IPv6 family only")->excludes(v4);
    app.add_flag("-S,--nosummary", options.no_summary, "Skip system summary line");
    app.add_flag("-C,--noclear", options.no_clear, "Don't clear the screen");
    app.add_option("-s,--sort", options.sort, "Sort columns, default all [all, sent, received]")
        ->check(CLI::IsMember({"all", "sent", "received"}));
    app.add_option("-r,--rows", options.rows, "Maximum rows to print, default 20")
        ->check(CLI::Range(1L, rows_limit));
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(tcptop, "top TCP connections by bytes sent and received", tcptop_main, tcptop_hooks);
