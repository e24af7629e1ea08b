// usdt: each firing of a USDT probe (systemtap <sys/sdt.h>, as in postgres, python, libstdc++,
// the JVM) named provider:name in a binary or in every file a running process maps, with its
// arguments decoded; semaphore-gated probes are enabled while traced. A workbench tool like
// bpftrace's usdt one-liners (libbpf-tools has no generic equivalent), with --json.
#include "usdt.skel.h"
#include "usdt.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/link.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"
#include "coretrace/usdt_target.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <string>
#include <vector>

namespace {

using namespace coretrace;
using namespace std::chrono;

struct Options {
    CommonOptions common;
    TaskFilter filter;
    std::vector<std::string> positionals; // [BINARY] PROVIDER:NAME
    std::vector<int> strings;             // --str: argument indexes to read as strings
    long duration_s = 0;
};

class Printer {
  public:
    Printer(const Options& options, const usdt::ProbeName& probe,
            const std::vector<usdt::Location>& locations, std::uint32_t str_mask)
        : options_(options), probe_(probe), locations_(locations), str_mask_(str_mask) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.common.timestamp)
            std::printf("%-8s ", "TIME");
        std::printf("%-7s %-7s %-16s %s\n", "PID", "TID", "COMM", "PROBE");
        std::fflush(stdout);
    }

    void print(const usdt_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);
        const unsigned nargs = std::min<unsigned>(event.nargs, USDT_MAX_ARGS);
        const std::string& path =
            event.cookie < locations_.size() ? locations_[event.cookie].path : unknown_;

        if (options_.common.json) {
            nlohmann::json args = nlohmann::json::array(), strings = nlohmann::json::array();
            for (unsigned i = 0; i < nargs; i++) {
                args.push_back(event.args[i]);
                if (is_string(i) && !(event.str_failed & (1u << i)))
                    strings.push_back(fixed_string(event.strs[i]));
                else
                    strings.push_back(nullptr);
            }
            nlohmann::json record{{"ts_ns", unix_ns},
                                  {"pid", event.pid},
                                  {"tid", event.tid},
                                  {"comm", comm},
                                  {"provider", probe_.provider},
                                  {"name", probe_.name},
                                  {"path", path},
                                  {"args", args}};
            if (str_mask_)
                record["strings"] = strings;
            write_json_record(record);
            return;
        }
        if (options_.common.timestamp)
            std::printf("%-8s ", clock_time(unix_ns).c_str());
        std::string line = fmt::format("{}:{}(", probe_.provider, probe_.name);
        for (unsigned i = 0; i < nargs; i++) {
            if (i)
                line += ", ";
            if (!is_string(i))
                line += std::to_string(event.args[i]);
            else if (event.str_failed & (1u << i))
                line += fmt::format("{:#x}", static_cast<std::uint64_t>(event.args[i]));
            else
                line += fmt::format("\"{}\"{}", fixed_string(event.strs[i]),
                                    event.str_truncated & (1u << i) ? "..." : "");
        }
        line += ")";
        std::printf("%-7u %-7u %-16s %s\n", event.pid, event.tid, comm.c_str(), line.c_str());
    }

  private:
    bool is_string(unsigned i) const { return str_mask_ & (1u << i); }

    const Options& options_;
    const usdt::ProbeName& probe_;
    const std::vector<usdt::Location>& locations_;
    std::uint32_t str_mask_;
    const std::string unknown_ = "?";
    KernelClock clock_;
};

int run(Options& options) {
    sys::require_bpf_privileges();
    if (options.positionals.size() == 1 && !options.filter.tgid)
        throw Error("give the BINARY holding the probe, or -p PID of a process that maps it");
    options.filter.validate();
    const pid_t pid = options.filter.tgid ? options.filter.tgid : -1;
    const usdt::ProbeName probe = usdt::parse_probe_name(options.positionals.back());
    const std::string binary = options.positionals.size() == 2 ? options.positionals[0] : "";
    const std::vector<usdt::Location> locations = usdt::find(probe, binary, pid);
    std::uint32_t str_mask = 0;
    for (int index : options.strings)
        str_mask |= 1u << index;
    StopSignals stop;

    auto skel = Skeleton<usdt_bpf>::open();
    bpf_program__set_autoattach(skel->progs.on_fire, false);
    skel->rodata->targ_str_mask = str_mask;
    options.filter.configure(skel->rodata);
    EventStream::prepare(skel);
    skel.load();
    options.filter.install(skel->maps.ct_cgroup_filter);
    Printer printer(options, probe, locations, str_mask);
    auto stream = EventStream::of<usdt_event>(
        skel, [&printer](const usdt_event& event) { printer.print(event); });
    // Destroyed before the skeleton (declared after it): a USDT link updates the object's maps
    // when it goes.
    std::vector<Link> links;
    std::size_t places = 0;
    for (std::size_t i = 0; i < locations.size(); i++) {
        links.push_back(usdt::attach(skel->progs.on_fire, locations[i], probe, pid, i));
        places += locations[i].probes.size();
    }

    announce(options.common,
             fmt::format("Tracing USDT probe {}:{} ({} place{} in {} file{})... Hit Ctrl-C to end.",
                         probe.provider, probe.name, places, places == 1 ? "" : "s",
                         locations.size(), locations.size() == 1 ? "" : "s"));
    printer.header();
    pump_events(*stream, stop, seconds(options.duration_s));
    links.clear();
    finish_events(*stream, options.common);
    return 0;
}

int usdt_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace each firing of a USDT probe (<sys/sdt.h>) with its arguments. A probe with\n"
        "a semaphore is enabled while traced.\n\n"
        "USAGE: usdt [-h] [-T] [-p PID] [-s N]... [-d DURATION] [--json]\n"
        "            [BINARY] PROVIDER:NAME\n"
        "       BINARY: a path, or a library or program name (libstdc++, python3);\n"
        "       without it, every file process -p PID maps is searched\n\n"
        "EXAMPLES:\n"
        "    usdt -p 181 python:function__entry           # in process 181\n"
        "    usdt /usr/lib/postgresql/15/bin/postgres postgresql:query__start -s 0\n"
        "    usdt libstdc++ libstdcxx:throw               # every C++ throw\n"
        "    usdt --json -d 5 -p 181 myapp:request        # five seconds, JSON Lines",
        "usdt"};
    app.add_option("positionals", options.positionals, "[BINARY] PROVIDER:NAME")
        ->required()
        ->expected(1, 2);
    add_pid_option(app, options.filter);
    app.add_option("-s,--str", options.strings,
                   "Also read argument N (from 0) as a string; repeat for more")
        ->allow_extra_args(false)
        ->check(CLI::Range(0, USDT_MAX_ARGS - 1));
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, true);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(usdt, "firings of a USDT probe in a binary or a process, with arguments", usdt_main);
