// tcptracer: TCP connections established (connect), accepted and closed, libbpf-tools'
// tcptracer with its flags and text output, on its function hooks (tcp_v4_connect,
// tcp_v6_connect, tcp_set_state, inet_csk_accept, tcp_close) where the kernel allows fentry,
// else on sock:inet_sock_set_state and the accept(2) exits, plus --json, filters in the kernel,
// and a count of records lost.
#include "tcptracer.skel.h"
#include "tcptracer.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/inet_address.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
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
    long duration_s = 0;
    bool timestamp = false, print_uid = false;
};

// Two paths (hooks::prefer_path): libbpf-tools' functions as fentry/fexit, or
// sock:inet_sock_set_state (connect, close, both families) with the accept(2)/accept4(2) exits.
// The first row decides.
constexpr std::string_view state_change = "tp/sock/inet_sock_set_state";
constexpr std::string_view connect_v4[] = {"fexit/tcp_v4_connect", state_change};
constexpr std::string_view connect_v6[] = {"fexit/tcp_v6_connect", state_change};
constexpr std::string_view established[] = {"fentry/tcp_set_state", state_change};
constexpr std::string_view closed[] = {"fentry/tcp_close", state_change};
constexpr std::string_view accepted[] = {"fexit/inet_csk_accept", "tp/syscalls/sys_exit_accept4"};
constexpr std::string_view accept_exit[] = {"tp/syscalls/sys_exit_accept"};
constexpr hooks::EventHooks tcptracer_hooks[] = {
    {"TCP connect over IPv4", connect_v4},
    {"TCP connect over IPv6", connect_v6},
    {"TCP connection established", established},
    {"TCP connection closed", closed},
    {"TCP connection accepted", accepted},
    {"accept(2) exit", accept_exit, /*optional=*/false, hooks::Path::tracepoint},
};

char type_letter(std::uint32_t type) {
    switch (type) {
    case TCPTRACER_CONNECT:
        return 'C';
    case TCPTRACER_ACCEPT:
        return 'A';
    case TCPTRACER_CLOSE:
        return 'X';
    }
    return '-';
}

const char* type_name(std::uint32_t type) {
    switch (type) {
    case TCPTRACER_CONNECT:
        return "connect";
    case TCPTRACER_ACCEPT:
        return "accept";
    case TCPTRACER_CLOSE:
        return "close";
    }
    return "unknown";
}

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.timestamp)
            std::printf("%-9s", "TIME(s)");
        if (options_.print_uid)
            std::printf("%-6s", "UID");
        std::printf("%s %-6s %-12s %-2s %-16s %-16s %-4s %-4s\n", "T", "PID", "COMM", "IP", "SADDR",
                    "DADDR", "SPORT", "DPORT");
        std::fflush(stdout);
    }

    void print(const tcptracer_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::string saddr = inet::format(event.family, event.saddr);
        const std::string daddr = inet::format(event.family, event.daddr);
        if (options_.common.json) {
            write_json_record({{"ts_ns", clock_.unix_ns(event.ts_ns)},
                               {"type", type_name(event.type)},
                               {"pid", event.pid},
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
        std::printf("%c %-6u %-12.12s %-2d %-16s %-16s %-4u %-4u\n", type_letter(event.type),
                    event.pid, comm.c_str(), inet::ip_version(event.family), saddr.c_str(),
                    daddr.c_str(), event.sport, event.dport);
    }

  private:
    const Options& options_;
    KernelClock clock_;
    std::uint64_t first_ts_ = 0;
};

int run(const Options& options) {
    sys::require_bpf_privileges();
    if (options.pid)
        sys::require_process(options.pid);
    StopSignals stop;

    auto skel = Skeleton<tcptracer_bpf>::open();
    if (!hooks::prefer_path(skel.object(), tcptracer_hooks))
        bpf_map__set_max_entries(skel->maps.established, 1); // the function path's alone
    skel->rodata->targ_pid = static_cast<__u32>(options.pid);
    skel->rodata->filter_uid = options.uid.has_value();
    skel->rodata->targ_uid = options.uid.value_or(0);
    run_events<tcptracer_event, Printer>(
        skel, stop, options.common,
        {.banner = "Tracing TCP established connections. Hit Ctrl-C to end.",
         .duration = seconds(options.duration_s),
         .ring_bytes = ring_bytes_for_sparse_events},
        options);
    return 0;
}

int tcptracer_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace TCP connections: established (C), accepted (A) and closed (X).\n"
        "Seen on fexit tcp_v4_connect/tcp_v6_connect/inet_csk_accept and fentry\n"
        "tcp_set_state/tcp_close where the kernel allows fentry, else on\n"
        "sock:inet_sock_set_state and the accept(2)/accept4(2) exits; filters are applied in\n"
        "the kernel (-v: the hooks used).\n\n"
        "USAGE: tcptracer [-h] [-t] [-U] [-p PID] [-u UID] [-d DURATION] [--json]\n\n"
        "EXAMPLES:\n"
        "    tcptracer             # trace all TCP connections\n"
        "    tcptracer -t          # include timestamps\n"
        "    tcptracer -p 181      # only trace PID 181\n"
        "    tcptracer -U          # include UID\n"
        "    tcptracer -u 1000     # only trace UID 1000\n"
        "    tcptracer --json      # one JSON object per event, and a summary",
        "tcptracer"};
    app.add_flag("-t,--timestamp", options.timestamp, "Include timestamp on output");
    app.add_flag("-U,--print-uid", options.print_uid, "Include UID on output");
    app.add_option("-p,--pid", options.pid, "Process PID to trace")->check(positive_integer);
    app.add_option("-u,--uid", options.uid, "Process UID to trace")->check(user_id);
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(tcptracer, "TCP connections established, accepted and closed", tcptracer_main,
               tcptracer_hooks);
