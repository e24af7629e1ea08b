// sigsnoop: signals as they are generated, with sender, target and result; and killsnoop, the
// same tool started with -k (as in libbpf-tools, where killsnoop is sigsnoop's alias): the
// kill(2), tkill(2) and tgkill(2) calls as they return. libbpf-tools' flags and text output,
// plus --json, -c, -d, several signals for -s, every filter in the kernel, and a count of the
// records lost.
#include "sigsnoop.skel.h"
#include "sigsnoop.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/log.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstring>
#include <fmt/format.h>
#include <string>
#include <vector>

namespace {

using namespace coretrace;
using namespace std::chrono;

struct Options {
    CommonOptions common;
    TaskFilter filter;
    std::vector<std::string> signals;
    long duration_s = 0;
    bool failed = false, kill_only = false, names = false;
};

constexpr std::string_view generate_sections[] = {"raw_tp/signal_generate",
                                                  "tp/signal/signal_generate"};
constexpr std::string_view kill_enter[] = {"tp/syscalls/sys_enter_kill"};
constexpr std::string_view kill_exit[] = {"tp/syscalls/sys_exit_kill"};
constexpr std::string_view tkill_enter[] = {"tp/syscalls/sys_enter_tkill"};
constexpr std::string_view tkill_exit[] = {"tp/syscalls/sys_exit_tkill"};
constexpr std::string_view tgkill_enter[] = {"tp/syscalls/sys_enter_tgkill"};
constexpr std::string_view tgkill_exit[] = {"tp/syscalls/sys_exit_tgkill"};
// Entry 0 is sigsnoop's own event; 1..6 are the -k (killsnoop) ones, in entry/exit pairs.
constexpr hooks::EventHooks sigsnoop_hooks[] = {
    {"signal_generate", generate_sections},
    {"kill(2) entry", kill_enter},
    {"kill(2) exit", kill_exit},
    {"tkill(2) entry", tkill_enter},
    {"tkill(2) exit", tkill_exit},
    {"tgkill(2) entry", tgkill_enter},
    {"tgkill(2) exit", tgkill_exit},
};
constexpr std::span<const hooks::EventHooks> killsnoop_hooks{sigsnoop_hooks};

// "SIGUSR1"; "SIGNAL-34" for the real-time ones, as libbpf-tools; "N/A" for 0.
std::string signal_name(int sig) {
    if (sig == 0)
        return "N/A";
    if (sig > 0 && sig < 32)
        if (const char* abbrev = sigabbrev_np(sig))
            return std::string("SIG") + abbrev;
    return fmt::format("SIGNAL-{}", sig);
}

// One -s item: "9", "SIGKILL" or "KILL"; 0 when it names no signal from 1 to 64.
int parse_signal(const std::string& item) {
    if (!item.empty() && std::isdigit(static_cast<unsigned char>(item[0]))) {
        if (item.size() > 2 || !std::all_of(item.begin(), item.end(), ::isdigit))
            return 0;
        int sig = std::stoi(item);
        return sig <= SIGSNOOP_MAX_SIGNAL ? sig : 0;
    }
    const std::string name = item.starts_with("SIG") ? item.substr(3) : item;
    for (int sig = 1; sig < 32; sig++)
        if (const char* abbrev = sigabbrev_np(sig); abbrev && name == abbrev)
            return sig;
    return 0;
}

const CLI::Validator signal_validator(
    [](const std::string& item) -> std::string {
        if (parse_signal(item))
            return {};
        return fmt::format("'{}' is not a signal (a number from 1 to {}, or a name such as "
                           "SIGUSR1)",
                           item, SIGSNOOP_MAX_SIGNAL);
    },
    "SIGNAL");

// The -s list as a mask of bits sig - 1 (0: every signal).
std::uint64_t signal_mask(const std::vector<std::string>& items) {
    std::uint64_t mask = 0;
    for (const auto& item : items)
        mask |= std::uint64_t{1} << (parse_signal(item) - 1);
    return mask;
}

const char* source_name(std::uint32_t source) {
    switch (source) {
    case SIGSNOOP_GENERATE:
        return "signal_generate";
    case SIGSNOOP_KILL:
        return "kill";
    case SIGSNOOP_TKILL:
        return "tkill";
    case SIGSNOOP_TGKILL:
        return "tgkill";
    }
    return "unknown";
}

// signal_generate's result (include/trace/events/signal.h), as a name.
nlohmann::json result_name(int result) {
    static const char* const names[] = {"delivered", "ignored", "already_pending", "overflow_fail",
                                        "lose_info"};
    if (result == SIGSNOOP_NOT_GENERATED)
        return nullptr;
    if (result >= 0 && result < 5)
        return names[result];
    return std::to_string(result);
}

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        std::printf("%-8s %-7s %-16s %-9s %-7s %-6s\n", "TIME", "PID", "COMM", "SIG", "TPID",
                    "RESULT");
        std::fflush(stdout);
    }

    void print(const sigsnoop_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);

        if (options_.common.json) {
            write_json_record({{"ts_ns", unix_ns},
                               {"pid", event.pid},
                               {"tid", event.tid},
                               {"comm", comm},
                               {"sig", event.sig},
                               {"signal", signal_name(event.sig)},
                               {"tpid", event.tpid},
                               {"tcomm", fixed_string(event.tcomm)},
                               {"ret", event.ret},
                               {"code", event.code},
                               {"result", result_name(event.result)},
                               {"source", source_name(event.source)}});
            return;
        }
        std::printf("%-8s %-7u %-16s ", clock_time(unix_ns).c_str(), event.pid, comm.c_str());
        if (options_.names)
            std::printf("%-9s ", signal_name(event.sig).c_str());
        else
            std::printf("%-9d ", event.sig);
        std::printf("%-7d %-6d\n", event.tpid, event.ret);
    }

  private:
    const Options& options_;
    KernelClock clock_;
};

// -k: the syscalls' tracepoints (all required); signal_generate only adds the target's comm and
// the delivery result, and is left out where the kernel has no hook for it.
void choose_kill_hooks(bpf_object* object) {
    for (std::size_t i = 1; i < std::size(sigsnoop_hooks); i++)
        hooks::prefer(object, sigsnoop_hooks[i]);
    try {
        hooks::prefer(object, sigsnoop_hooks[0]);
    } catch (const Error& e) {
        hooks::skip(object, sigsnoop_hooks[0]);
        log::debug("signal_generate: not traced (no target comm or result): {}", e.what());
    }
}

int run(Options& options) {
    const std::uint64_t signals = signal_mask(options.signals);
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<sigsnoop_bpf>::open();
    if (options.kill_only) {
        choose_kill_hooks(skel.object());
    } else {
        hooks::prefer(skel.object(), sigsnoop_hooks[0]);
        for (std::size_t i = 1; i < std::size(sigsnoop_hooks); i++)
            hooks::skip(skel.object(), sigsnoop_hooks[i]);
        // Nothing uses the call map without -k.
        bpf_map__set_max_entries(skel->maps.inflight, 1);
    }
    skel->rodata->targ_failed = options.failed;
    skel->rodata->targ_signals = signals;
    skel->rodata->kill_only = options.kill_only;
    run_events<sigsnoop_event, Printer>(
        skel, options.filter, stop, options.common,
        {options.kill_only ? "Tracing kill(2), tkill(2) and tgkill(2)... Hit Ctrl-C to end."
                           : "Tracing signals... Hit Ctrl-C to end.",
         seconds(options.duration_s), &skel->bss->calls_dropped},
        options);
    return 0;
}

int signals_main(const char* name, bool kill_default, int argc, char** argv) {
    Options options;
    options.kill_only = kill_default;
    const std::string usage = fmt::format(
        "{}"
        "Every filter is applied in the kernel.\n\n"
        "USAGE: {} [-h] [-x] [-k] [-n] [-p PID] [-s SIGNAL[,SIGNAL...]] [-c CG] [-d DURATION]\n"
        "       [--json]\n\n"
        "EXAMPLES:\n"
        "    {}            # trace signals {}\n"
        "    {} -k         # trace signals issued by kill syscall only\n"
        "    {} -x         # trace failed signals only\n"
        "    {} -p 1216    # only trace PID 1216 (the sender)\n"
        "    {} -s 1,9,15  # trace signals 1, 9 and 15 (SIGHUP,KILL,SIGTERM also work)\n"
        "    {} --json     # one JSON object per signal, and a summary at the end",
        kill_default ? "Trace signals sent by kill(2), tkill(2) and tgkill(2), as the calls "
                       "return.\n"
                     : "Trace standard and real-time signals as they are generated "
                       "(signal:signal_generate).\n"
                       "With -k, trace the kill(2), tkill(2) and tgkill(2) calls instead, as "
                       "they return:\nonly they see a signal that fails to be sent.\n",
        name, name, kill_default ? "sent by kill syscalls" : "system-wide", name, name, name, name,
        name);
    CLI::App app{usage, name};
    app.add_flag("-x,--failed", options.failed,
                 "Trace failed signals only (non-zero RESULT; with -k, a failed call)");
    app.add_flag("-k,--kill", options.kill_only, "Trace signals issued by kill syscall only");
    app.add_flag("-n,--name", options.names, "Output signal name instead of signal number");
    add_pid_option(app, options.filter, "Process ID to trace (the sender)");
    app.add_option("-s,--signal", options.signals, "Signals to trace (numbers or names)")
        ->delimiter(',')
        ->check(signal_validator);
    add_cgroup_option(app, options.filter, "Trace senders in this cgroup v2 path only");
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

int sigsnoop_main(int argc, char** argv) {
    return signals_main("sigsnoop", false, argc, argv);
}
int killsnoop_main(int argc, char** argv) {
    return signals_main("killsnoop", true, argc, argv);
}

} // namespace

CORETRACE_TOOL(sigsnoop, "signals as they are generated: sender, target, signal, result",
               sigsnoop_main, sigsnoop_hooks);
CORETRACE_TOOL(killsnoop, "kill(2), tkill(2) and tgkill(2) calls: signal, target, result",
               killsnoop_main, killsnoop_hooks);
