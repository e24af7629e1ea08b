// tcpsynbl: histograms of TCP listeners' accept backlog as handshakes complete, per backlog
// limit: libbpf-tools' tcpsynbl with its flags and text output, sampled at
// tcp_v4_syn_recv_sock / tcp_v6_syn_recv_sock (fentry, else kprobes) where the kernel allows
// them, as libbpf-tools, and on sock:inet_sock_set_state otherwise, plus -L and --json.
#include "tcpsynbl.skel.h"
#include "tcpsynbl.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/histogram.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/inet_address.hpp"
#include "coretrace/map.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/socket.h>

namespace {

using namespace coretrace;
using namespace std::chrono;

struct Options {
    CommonOptions common;
    bool ipv4 = false, ipv6 = false;
    std::string ports;
    long interval_s = 0;
    long count = 0;
};

// Two paths (hooks::prefer_path): the functions, one per listener family, or the one state change
// for both. The first row decides; the second follows it (its tracepoint is the first row's, a
// program loaded once).
constexpr std::string_view v4_listener[] = {
    "fentry/tcp_v4_syn_recv_sock", "kprobe/tcp_v4_syn_recv_sock", "tp/sock/inet_sock_set_state"};
constexpr std::string_view v6_listener[] = {
    "fentry/tcp_v6_syn_recv_sock", "kprobe/tcp_v6_syn_recv_sock", "tp/sock/inet_sock_set_state"};
constexpr hooks::EventHooks tcpsynbl_hooks[] = {
    {"handshake completed on an IPv4 listener (tracepoint: any, LISTEN->SYN_RECV)", v4_listener},
    {"handshake completed on an IPv6 listener", v6_listener},
};

void report(const Options& options, HashMap<std::uint64_t, tcpsynbl_hist>& hists) {
    auto items = hists.items();
    for (const auto& [key, hist] : items)
        hists.erase(key);
    std::sort(items.begin(), items.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    if (options.common.json) {
        auto histograms = nlohmann::json::array();
        for (const auto& [max, hist] : items)
            histograms.push_back({{"backlog_max", max},
                                  {"count", hist_total(hist.slots)},
                                  {"buckets", log2_hist_json(hist.slots, "backlog")}});
        emit_json_line(
            nlohmann::json{{"time_unix_ns", unix_time_ns()}, {"histograms", std::move(histograms)}}
                .dump());
        return;
    }
    std::string out;
    if (options.common.timestamp)
        out += fmt::format("{:<8}\n", clock_time());
    for (const auto& [max, hist] : items)
        out += fmt::format("backlog_max = {}\n", max) + format_log2_hist(hist.slots, "backlog");
    out += "\n";
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(const Options& options) {
    sys::require_bpf_privileges();
    StopSignals stop;

    auto skel = Skeleton<tcpsynbl_bpf>::open();
    hooks::prefer_path(skel.object(), tcpsynbl_hooks);
    skel->rodata->targ_family = options.ipv4 ? AF_INET : options.ipv6 ? AF_INET6 : 0;
    inet::store_ports(options.ports, skel->rodata->targ_ports, skel->rodata->targ_ports_len);
    skel.load();
    HashMap<std::uint64_t, tcpsynbl_hist> hists(skel->maps.hists);
    skel.attach();

    announce(options.common, "Tracing SYN backlog size. Hit Ctrl-C to end.");
    Pacing pacing;
    if (options.interval_s)
        pacing.interval = seconds(options.interval_s);
    if (options.count)
        pacing.count = options.count;
    pacing.run(stop, [&] { report(options, hists); });
    return 0;
}

int tcpsynbl_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Summarize TCP SYN backlog as a histogram.\n"
        "Sampled as each handshake completes: at tcp_v4_syn_recv_sock and\n"
        "tcp_v6_syn_recv_sock (fentry, else kprobes) where the kernel allows them, as\n"
        "libbpf-tools; otherwise on sock:inet_sock_set_state (LISTEN->SYN_RECV of the new\n"
        "socket), which misses handshakes dropped because the accept queue was full.\n\n"
        "USAGE: tcpsynbl [-h] [-T] [-4 | -6] [-L PORTS] [--json] [interval] [count]\n\n"
        "EXAMPLES:\n"
        "    tcpsynbl              # trace syn backlog\n"
        "    tcpsynbl -T 1 10      # print 1 second summaries with timestamps, 10 times\n"
        "    tcpsynbl -4           # trace IPv4 family only\n"
        "    tcpsynbl -6           # trace IPv6 family only\n"
        "    tcpsynbl -L 80,443    # only listeners on ports 80 and 443",
        "tcpsynbl"};
    app.add_option("interval", options.interval_s, "Seconds between reports")
        ->check(positive_integer);
    app.add_option("count", options.count, "Number of reports")->check(positive_integer);
    auto* v4 = app.add_flag("-4,--ipv4", options.ipv4, "Trace IPv4 family only");
    app.add_flag("-6,--ipv6", options.ipv6, "Trace IPv6 family only")->excludes(v4);
    app.add_option("-L,--localport", options.ports, "Comma-separated list of listener ports")
        ->check(inet::port_list(inet::max_ports));
    add_common_options(app, options.common, true);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(tcpsynbl, "histogram of TCP listeners' accept backlog", tcpsynbl_main,
               tcpsynbl_hooks);
