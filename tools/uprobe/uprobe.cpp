// uprobe: each call of a user-space function named "lib:func", "/path:func" or ":func" (the
// program of -p PID), with its first integer arguments; with --ret each return, with the
// arguments, the return value and the time the call took. A workbench tool in the spirit of
// bpftrace's uprobe/uretprobe one-liners (libbpf-tools has no equivalent), with --json.
#include "uprobe.skel.h"
#include "uprobe.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/link.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"
#include "coretrace/uprobe_target.hpp"

#include <fmt/format.h>
#include <string>
#include <vector>

namespace {

using namespace coretrace;
using namespace std::chrono;

struct Options {
    CommonOptions common;
    TaskFilter filter;
    std::string target;
    bool ret = false;
    int nargs = UPROBE_MAX_ARGS;
    long duration_s = 0;
};

class Printer {
  public:
    Printer(const Options& options, const uprobe::Target& target)
        : options_(options), target_(target) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.common.timestamp)
            std::printf("%-8s ", "TIME");
        std::printf("%-7s %-7s %-16s ", "PID", "TID", "COMM");
        if (options_.ret)
            std::printf("%10s ", "LAT(us)");
        std::printf("CALL\n");
        std::fflush(stdout);
    }

    void print(const uprobe_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);
        const bool has_args = event.kind == UPROBE_ENTRY || event.has_entry;
        std::vector<std::int64_t> args;
        if (has_args)
            for (int i = 0; i < options_.nargs; i++)
                args.push_back(static_cast<std::int64_t>(event.args[i]));

        if (options_.common.json) {
            nlohmann::json record{{"ts_ns", unix_ns},
                                  {"pid", event.pid},
                                  {"tid", event.tid},
                                  {"comm", comm},
                                  {"function", target_.spec.function},
                                  {"path", target_.path},
                                  {"kind", event.kind == UPROBE_RETURN ? "return" : "entry"}};
            if (has_args)
                record["args"] = args;
            if (event.kind == UPROBE_RETURN) {
                record["ret"] = event.ret;
                if (event.has_entry)
                    record["latency_ns"] = event.latency_ns;
            }
            write_json_record(record);
            return;
        }
        if (options_.common.timestamp)
            std::printf("%-8s ", clock_time(unix_ns).c_str());
        std::printf("%-7u %-7u %-16s ", event.pid, event.tid, comm.c_str());
        if (options_.ret) {
            if (event.has_entry)
                std::printf("%10.3f ", static_cast<double>(event.latency_ns) / 1000.0);
            else
                std::printf("%10s ", "?");
        }
        std::string call = target_.spec.function + "(";
        if (has_args)
            for (std::size_t i = 0; i < args.size(); i++)
                call += fmt::format("{}{}", i ? ", " : "", args[i]);
        else
            call += "?";
        call += ")";
        if (event.kind == UPROBE_RETURN)
            call += fmt::format(" = {}", event.ret);
        std::printf("%s\n", call.c_str());
    }

  private:
    const Options& options_;
    const uprobe::Target& target_;
    KernelClock clock_;
};

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    // Everything that can be wrong with the target is found before anything loads.
    const uprobe::Target target = uprobe::resolve(uprobe::parse(options.target),
                                                  options.filter.tgid ? options.filter.tgid : -1);
    StopSignals stop;

    auto skel = Skeleton<uprobe_bpf>::open();
    bpf_program__set_autoload(skel->progs.on_return, options.ret);
    skel->rodata->targ_ret = options.ret;
    options.filter.configure(skel->rodata);
    EventStream::prepare(skel);
    skel.load();
    options.filter.install(skel->maps.ct_cgroup_filter);
    Printer printer(options, target);
    auto stream = EventStream::of<uprobe_event>(
        skel, [&printer](const uprobe_event& event) { printer.print(event); });
    // Owned by the skeleton, which detaches them when it dies (error or exit).
    skel->links.on_entry = uprobe::attach(skel->progs.on_entry, target, false).release();
    if (options.ret)
        skel->links.on_return = uprobe::attach(skel->progs.on_return, target, true).release();

    announce(options.common,
             fmt::format("Tracing {}{} ({} at {:#x})... Hit Ctrl-C to end.",
                         uprobe::describe(target.spec), options.ret ? " returns" : "", target.path,
                         target.offset));
    printer.header();
    pump_events(*stream, stop, seconds(options.duration_s));
    skel.detach();
    finish_events(*stream, options.common, skel->bss->entries_dropped);
    return 0;
}

int uprobe_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace each call of a user-space function, with its first integer arguments, or with\n"
        "--ret each return, with the arguments, the return value and the call's latency.\n\n"
        "USAGE: uprobe [-h] [-T] [-p PID] [-r] [-a N] [-d DURATION] [--json] TARGET\n"
        "       TARGET: LIBRARY:FUNCTION  a library found through the loader's paths, or among\n"
        "                                 the files the process maps with -p\n"
        "               /PATH:FUNCTION    a program or library by path\n"
        "               :FUNCTION         the program of -p PID\n\n"
        "EXAMPLES:\n"
        "    uprobe libc.so.6:malloc -p 181   # malloc() calls of process 181\n"
        "    uprobe -r /bin/bash:readline     # readline() returns in every bash\n"
        "    uprobe -r -p 181 :parse_request  # a function of process 181's program\n"
        "    uprobe -a 2 libc:write           # write() calls, first two arguments\n"
        "    uprobe --json libc:free -d 5     # five seconds of free() calls, as JSON Lines",
        "uprobe"};
    app.add_option("target", options.target, "LIBRARY:FUNCTION, /PATH:FUNCTION or :FUNCTION")
        ->required();
    add_pid_option(app, options.filter);
    app.add_flag("-r,--ret", options.ret,
                 "Trace returns: arguments, return value and latency of each call");
    app.add_option("-a,--args", options.nargs,
                   fmt::format("Integer arguments to show (0 to {}, default {})", UPROBE_MAX_ARGS,
                               UPROBE_MAX_ARGS))
        ->check(CLI::Range(0, UPROBE_MAX_ARGS));
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, true);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(uprobe, "calls and returns of a user-space function, with arguments", uprobe_main);
