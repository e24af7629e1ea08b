// solisten: listen(2) calls on IPv4 and IPv6 sockets as they return, libbpf-tools' solisten
// with its flags and text output, seen at inet_listen's return (fexit) where the kernel allows
// it, as libbpf-tools, and on listen(2)'s tracepoints otherwise, plus --json, -u, -c, every
// filter in the kernel, and a count of records lost.
#include "solisten.skel.h"
#include "solisten.h"

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
#include <optional>
#include <string>
#include <sys/socket.h>

namespace {

using namespace coretrace;
using namespace std::chrono;

struct Options {
    CommonOptions common;
    pid_t pid = 0;
    std::optional<uid_t> uid;
    std::string cgroup;
    long duration_s = 0;
};

// Two paths (hooks::prefer_path): fexit/inet_listen alone (socket, backlog and result in one
// program), or listen(2)'s entry and exit. The first row decides; the exit is loaded only with the
// entry.
constexpr std::string_view listen_enter[] = {"fexit/inet_listen", "tp/syscalls/sys_enter_listen"};
constexpr std::string_view listen_exit[] = {"tp/syscalls/sys_exit_listen"};
constexpr hooks::EventHooks solisten_hooks[] = {
    {"listen (fexit: the whole call; tracepoint: listen(2) entry)", listen_enter},
    {"listen(2) exit (tracepoint path)", listen_exit, /*optional=*/false, hooks::Path::tracepoint},
};

// libbpf-tools' PROTO column: TCPv4, UDPv6, ...
std::string protocol_text(unsigned family, unsigned type) {
    const char* protocol = type == SOCK_STREAM ? "TCP" : type == SOCK_DGRAM ? "UDP" : "UNK";
    return fmt::format("{}v{}", protocol, family == AF_INET ? 4 : 6);
}

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.common.timestamp)
            std::printf("%-8s ", "TIME(s)");
        std::printf("%-7s %-16s %-3s %-7s %-5s %-5s %-32s\n", "PID", "COMM", "RET", "BACKLOG",
                    "PROTO", "PORT", "ADDR");
        std::fflush(stdout);
    }

    void print(const solisten_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::string addr = inet::format(event.family, event.addr);
        const std::string protocol = protocol_text(event.family, event.type);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);
        if (options_.common.json) {
            write_json_record({{"ts_ns", unix_ns},
                               {"pid", event.pid},
                               {"tid", event.tid},
                               {"uid", event.uid},
                               {"comm", comm},
                               {"ret", event.ret},
                               {"errno", event.ret < 0 ? -event.ret : 0},
                               {"backlog", event.backlog},
                               {"protocol", protocol},
                               {"port", event.port},
                               {"addr", addr}});
            return;
        }
        if (options_.common.timestamp)
            std::printf("%8s ", clock_time(unix_ns).c_str());
        std::printf("%-7u %-16s %-3d %-7d %-5s %-5u %-32s\n", event.pid, comm.c_str(), event.ret,
                    event.backlog, protocol.c_str(), event.port, addr.c_str());
    }

  private:
    const Options& options_;
    KernelClock clock_;
};

int run(const Options& options) {
    sys::require_bpf_privileges();
    TaskFilter filter;
    filter.tgid = options.pid;
    filter.cgroup_path = options.cgroup;
    filter.uid = options.uid;
    filter.validate();
    StopSignals stop;

    auto skel = Skeleton<solisten_bpf>::open();
    hooks::prefer_path(skel.object(), solisten_hooks);
    run_events<solisten_event, Printer>(skel, filter, stop, options.common,
                                        {.banner = "Tracing listen syscalls... Hit Ctrl-C to end.",
                                         .duration = seconds(options.duration_s),
                                         .extra_lost = &skel->bss->dropped,
                                         .ring_bytes = ring_bytes_for_sparse_events},
                                        options);
    return 0;
}

int solisten_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace IPv4 and IPv6 listen syscalls, as they return.\n"
        "Seen at inet_listen's return (fexit) where the kernel allows it, as libbpf-tools:\n"
        "TCP listens, also those made inside the kernel, with the backlog capped at\n"
        "somaxconn. Otherwise on listen(2)'s tracepoints: every listen(2) on an IPv4/IPv6\n"
        "socket (UDP too), with the backlog as passed. Every filter is applied in the\n"
        "kernel.\n\n"
        "USAGE: solisten [-h] [-t] [-p PID] [-u UID] [-c CG] [-d DURATION] [--json]\n\n"
        "EXAMPLES:\n"
        "    solisten           # trace listen syscalls\n"
        "    solisten -t        # output with timestamp\n"
        "    solisten -p 1216   # only trace PID 1216\n"
        "    solisten --json    # one JSON object per call, and a summary",
        "solisten"};
    app.add_option("-p,--pid", options.pid, "Process ID to trace")->check(positive_integer);
    app.add_flag("-t,--timestamp", options.common.timestamp, "Include timestamp on output");
    app.add_option("-u,--uid", options.uid, "User ID to trace")->check(user_id);
    app.add_option("-c,--cgroup", options.cgroup, "Trace processes in this cgroup v2 path only");
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(solisten, "listen(2) calls on IPv4 and IPv6 sockets", solisten_main, solisten_hooks);
