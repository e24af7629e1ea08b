// tcprtt: histograms of TCP smoothed round-trip time, libbpf-tools' tcprtt with its flags and
// text output, sampled at tcp_rcv_established (fentry, else kprobe) where the kernel allows it,
// as libbpf-tools, and on the tcp:tcp_probe tracepoint otherwise, plus --json.
#include "tcprtt.skel.h"
#include "tcprtt.h"

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

#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>

namespace {

using namespace coretrace;
using namespace std::chrono;

struct Options {
    CommonOptions common;
    long interval_s = 0;
    long duration_s = 0;
    bool milliseconds = false, by_laddr = false, by_raddr = false, extended = false;
    int lport = 0, rport = 0;
    std::string laddr, raddr;
};

constexpr std::string_view tcp_probe[] = {"fentry/tcp_rcv_established",
                                          "kprobe/tcp_rcv_established", "tp/tcp/tcp_probe"};
constexpr hooks::EventHooks tcprtt_hooks[] = {
    {"segment received in ESTABLISHED (srtt)", tcp_probe},
};

void report(const Options& options, HashMap<tcprtt_key, tcprtt_hist>& hists) {
    const char* unit = options.milliseconds ? "msecs" : "usecs";
    auto items = hists.items();
    for (const auto& [key, hist] : items)
        hists.erase(key);

    if (options.common.json) {
        auto histograms = nlohmann::json::array();
        for (const auto& [key, hist] : items) {
            nlohmann::json entry;
            if (options.by_laddr || options.by_raddr)
                entry[options.by_laddr ? "laddr" : "raddr"] = inet::format(key.family, key.addr);
            entry["count"] = hist.count;
            entry["average"] = hist.count ? hist.latency / hist.count : 0;
            entry["buckets"] = log2_hist_json(hist.slots, unit);
            histograms.push_back(std::move(entry));
        }
        emit_json_line(nlohmann::json{
            {"time_unix_ns", unix_time_ns()}, {"unit", unit}, {"histograms", std::move(histograms)}}
                           .dump());
        return;
    }
    std::string out = "\n";
    if (options.common.timestamp)
        out += fmt::format("{:<8}\n", clock_time());
    for (const auto& [key, hist] : items) {
        if (options.by_laddr)
            out += "Local Address = ";
        else if (options.by_raddr)
            out += "Remote Address = ";
        else
            out += "All Addresses = ****** ";
        if (options.by_laddr || options.by_raddr)
            out += inet::format(key.family, key.addr) + " ";
        if (options.extended)
            out += fmt::format("[AVG {}]", hist.count ? hist.latency / hist.count : 0);
        out += "\n" + format_log2_hist(hist.slots, unit);
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(const Options& options) {
    sys::require_bpf_privileges();
    StopSignals stop;

    auto skel = Skeleton<tcprtt_bpf>::open();
    for (const auto& event : tcprtt_hooks)
        hooks::prefer(skel.object(), event);
    skel->rodata->targ_ms = options.milliseconds;
    skel->rodata->targ_laddr_hist = options.by_laddr;
    skel->rodata->targ_raddr_hist = options.by_raddr;
    skel->rodata->targ_sport = static_cast<__u16>(options.lport);
    skel->rodata->targ_dport = static_cast<__u16>(options.rport);
    if (!options.laddr.empty()) {
        const auto address = inet::parse_address(options.laddr);
        skel->rodata->targ_saddr_family = static_cast<__u16>(address.family);
        std::memcpy(const_cast<__u8*>(skel->rodata->targ_saddr), address.bytes.data(), 16);
    }
    if (!options.raddr.empty()) {
        const auto address = inet::parse_address(options.raddr);
        skel->rodata->targ_daddr_family = static_cast<__u16>(address.family);
        std::memcpy(const_cast<__u8*>(skel->rodata->targ_daddr), address.bytes.data(), 16);
    }
    skel.load();
    HashMap<tcprtt_key, tcprtt_hist> hists(skel->maps.hists);
    skel.attach();

    announce(options.common, options.duration_s
                                 ? fmt::format("Tracing TCP RTT for {} secs.", options.duration_s)
                                 : std::string("Tracing TCP RTT... Hit Ctrl-C to end."));
    // libbpf-tools: a report every interval (default: only at the end) until -d has passed.
    Pacing pacing;
    if (options.interval_s)
        pacing.interval = seconds(options.interval_s);
    if (options.duration_s) {
        const long every = options.interval_s ? options.interval_s : options.duration_s;
        pacing.interval = seconds(every);
        pacing.count = (options.duration_s + every - 1) / every;
    }
    pacing.run(stop, [&] { report(options, hists); });
    return 0;
}

int tcprtt_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Summarize TCP RTT as a histogram.\n"
                 "Sampled on each segment received in ESTABLISHED: at tcp_rcv_established\n"
                 "(fentry, else kprobe) where the kernel allows it, else on tcp:tcp_probe;\n"
                 "the same samples either way.\n\n"
                 "USAGE: tcprtt [-h] [-T] [-m] [-i INTERVAL] [-d DURATION] [-p LPORT] [-P RPORT]\n"
                 "              [-a LADDR] [-A RADDR] [-b | -B] [-e] [--json]\n\n"
                 "EXAMPLES:\n"
                 "    tcprtt                # summarize TCP RTT\n"
                 "    tcprtt -i 1 -d 10     # print 1 second summaries, 10 times\n"
                 "    tcprtt -m -T          # summarize in millisecond, and timestamps\n"
                 "    tcprtt -p             # filter for local port\n"
                 "    tcprtt -P             # filter for remote port\n"
                 "    tcprtt -a             # filter for local address\n"
                 "    tcprtt -A             # filter for remote address\n"
                 "    tcprtt -b             # show sockets histogram by local address\n"
                 "    tcprtt -B             # show sockets histogram by remote address\n"
                 "    tcprtt -e             # show extension summary(average)\n"
                 "    tcprtt --json -d 5    # the histogram after 5 seconds, as JSON",
                 "tcprtt"};
    app.add_option("-i,--interval", options.interval_s, "summary interval, seconds")
        ->check(positive_integer);
    app.add_option("-d,--duration", options.duration_s, "total duration of trace, seconds")
        ->check(positive_integer);
    app.add_flag("-m,--millisecond", options.milliseconds, "millisecond histogram");
    app.add_option("-p,--lport", options.lport, "filter for local port")
        ->check(CLI::Range(1, 65535));
    app.add_option("-P,--rport", options.rport, "filter for remote port")
        ->check(CLI::Range(1, 65535));
    app.add_option("-a,--laddr", options.laddr, "filter for local address")->check(inet::address);
    app.add_option("-A,--raddr", options.raddr, "filter for remote address")->check(inet::address);
    auto* by_laddr =
        app.add_flag("-b,--byladdr", options.by_laddr, "show sockets histogram by local address");
    app.add_flag("-B,--byraddr", options.by_raddr, "show sockets histogram by remote address")
        ->excludes(by_laddr);
    app.add_flag("-e,--extension", options.extended, "show extension summary(average)");
    add_common_options(app, options.common, true);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(tcprtt, "histogram of TCP smoothed round-trip time", tcprtt_main, tcprtt_hooks);
