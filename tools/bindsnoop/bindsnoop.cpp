// bindsnoop: bind(2) calls on IPv4 and IPv6 sockets as they return, libbpf-tools' bindsnoop
// with its flags and text output, on fexit inet_bind/inet6_bind where the kernel allows fentry,
// else on bind(2)'s tracepoints, plus --json, -u, every filter in the kernel, and a count of
// records lost.
#include "bindsnoop.skel.h"
#include "bindsnoop.h"

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

#include <netinet/in.h>
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
    std::string ports;
    long duration_s = 0;
    bool errors = false;
};

// Two paths (hooks::prefer_path): fexit on inet_bind and inet6_bind, or bind(2)'s entry
// (both families) and exit. The first row decides.
constexpr std::string_view bind_v4[] = {"fexit/inet_bind", "tp/syscalls/sys_enter_bind"};
constexpr std::string_view bind_v6[] = {"fexit/inet6_bind", "tp/syscalls/sys_enter_bind"};
constexpr std::string_view bind_exit[] = {"tp/syscalls/sys_exit_bind"};
constexpr hooks::EventHooks bindsnoop_hooks[] = {
    {"bind on an IPv4 socket", bind_v4},
    {"bind on an IPv6 socket", bind_v6},
    {"bind(2) exit", bind_exit, /*optional=*/false, hooks::Path::tracepoint},
};

const char* protocol_name(unsigned protocol) {
    switch (protocol) {
    case IPPROTO_TCP:
        return "TCP";
    case IPPROTO_UDP:
        return "UDP";
    }
    return "UNK";
}

// libbpf-tools' OPTS column: "FTNRr", a '.' for each option not set.
std::string options_text(unsigned opts) {
    std::string text = "FTNRr";
    for (std::size_t i = 0; i < text.size(); i++)
        if (!(opts & (1u << i)))
            text[i] = '.';
    return text;
}

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.common.timestamp)
            std::printf("%-8s ", "TIME(s)");
        std::printf("%-7s %-16s %-3s %-5s %-5s %-4s %-5s %-48s\n", "PID", "COMM", "RET", "PROTO",
                    "OPTS", "IF", "PORT", "ADDR");
        std::fflush(stdout);
    }

    void print(const bindsnoop_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::string addr = inet::format(event.family, event.addr);
        const std::string opts = options_text(event.opts);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);
        if (options_.common.json) {
            write_json_record({{"ts_ns", unix_ns},
                               {"pid", event.pid},
                               {"tid", event.tid},
                               {"uid", event.uid},
                               {"comm", comm},
                               {"ret", event.ret},
                               {"errno", event.ret < 0 ? -event.ret : 0},
                               {"protocol", protocol_name(event.protocol)},
                               {"opts", opts},
                               {"bound_dev_if", event.bound_dev_if},
                               {"ip", inet::ip_version(event.family)},
                               {"port", event.port},
                               {"addr", addr}});
            return;
        }
        if (options_.common.timestamp)
            std::printf("%8s ", clock_time(unix_ns).c_str());
        std::printf("%-7u %-16s %-3d %-5s %-5s %-4u %-5u %-48s\n", event.pid, comm.c_str(),
                    event.ret, protocol_name(event.protocol), opts.c_str(), event.bound_dev_if,
                    event.port, addr.c_str());
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

    auto skel = Skeleton<bindsnoop_bpf>::open();
    hooks::prefer_path(skel.object(), bindsnoop_hooks);
    skel->rodata->targ_errors = options.errors;
    inet::store_ports(options.ports, skel->rodata->targ_ports, skel->rodata->targ_ports_len);
    run_events<bindsnoop_event, Printer>(skel, filter, stop, options.common,
                                         {.banner = "Tracing binds ... Hit Ctrl-C to end",
                                          .duration = seconds(options.duration_s),
                                          .extra_lost = &skel->bss->dropped,
                                          .ring_bytes = ring_bytes_for_sparse_events},
                                         options);
    return 0;
}

int bindsnoop_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace bind syscalls (IPv4 and IPv6 sockets), as they return.\n"
        "Seen on fexit inet_bind/inet6_bind where the kernel allows fentry (binds made in the\n"
        "kernel too), else on bind(2)'s tracepoints; every filter is applied in the kernel\n"
        "(-v: the hooks used).\n\n"
        "USAGE: bindsnoop [-h] [-t] [-x] [-p PID] [-u UID] [-P PORTS] [-c CG] [-d DURATION]\n"
        "                 [--json]\n\n"
        "EXAMPLES:\n"
        "    bindsnoop             # trace all bind syscall\n"
        "    bindsnoop -t          # include timestamps\n"
        "    bindsnoop -x          # include errors on output\n"
        "    bindsnoop -p 1216     # only trace PID 1216\n"
        "    bindsnoop -c CG       # Trace process under cgroupsPath CG\n"
        "    bindsnoop -P 80,81    # only trace port 80 and 81\n"
        "    bindsnoop --json      # one JSON object per bind, and a summary\n\n"
        "Socket options are reported as:\n"
        "  SOL_IP     IP_FREEBIND              F....\n"
        "  SOL_IP     IP_TRANSPARENT           .T...\n"
        "  SOL_IP     IP_BIND_ADDRESS_NO_PORT  ..N..\n"
        "  SOL_SOCKET SO_REUSEADDR             ...R.\n"
        "  SOL_SOCKET SO_REUSEPORT             ....r",
        "bindsnoop"};
    app.add_flag("-t,--timestamp", options.common.timestamp, "Include timestamp on output");
    app.add_option("-c,--cgroup", options.cgroup, "Trace process in cgroup v2 path");
    app.add_flag("-x,--failed", options.errors, "Include errors on output");
    app.add_option("-p,--pid", options.pid, "Process ID to trace")->check(positive_integer);
    app.add_option("-u,--uid", options.uid, "User ID to trace")->check(user_id);
    app.add_option("-P,--ports", options.ports, "Comma-separated list of ports to trace")
        ->check(inet::port_list(inet::max_ports));
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(bindsnoop, "bind(2) calls on IPv4 and IPv6 sockets", bindsnoop_main,
               bindsnoop_hooks);
