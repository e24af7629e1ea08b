// execsnoop: every execve(2) and execveat(2) call as it returns, with the path, arguments,
// parent and result; libbpf-tools' execsnoop with its flags and text output, plus --json,
// execveat(2), every filter (-n and -l included) in the kernel, clean truncation flags, and a
// count of the records lost.
#include "execsnoop_setup.hpp"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/features.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/log.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <cstring>
#include <fmt/format.h>
#include <linux/bpf.h>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace coretrace;
using namespace std::chrono;

constexpr auto& execsnoop_hooks = execsnoop::hook_table;

struct Options {
    CommonOptions common;
    TaskFilter filter;
    std::string name;
    std::string line;
    int max_args = EXECSNOOP_DEFAULT_ARGS;
    long duration_s = 0;
    bool failed = false, quote = false, print_uid = false, since_start = false;
};

// The strings of a record: the path, then argv[1], argv[2], ...
std::vector<std::string> strings_of(const execsnoop_event& event) {
    std::vector<std::string> strings;
    const std::size_t count = std::min<std::size_t>(event.args_count, EXECSNOOP_MAX_ARGS);
    for (std::size_t i = 0; i < count; i++) {
        const char* slot = event.args + i * EXECSNOOP_ARG_LEN;
        strings.emplace_back(slot, strnlen(slot, EXECSNOOP_ARG_LEN));
    }
    return strings;
}

bool is_cut(const execsnoop_event& event, std::size_t index) {
    return index < 64 && ((event.cut_args >> index) & 1);
}

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options), start_ns_(unix_time_ns()) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.common.timestamp)
            std::printf("%-9s", "TIME");
        if (options_.since_start)
            std::printf("%-8s ", "TIME(s)");
        if (options_.print_uid)
            std::printf("%-6s ", "UID");
        std::printf("%-16s %-6s %-6s %3s %s\n", "PCOMM", "PID", "PPID", "RET", "ARGS");
        std::fflush(stdout);
    }

    void print(const execsnoop_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);
        const std::vector<std::string> strings = strings_of(event);

        if (options_.common.json) {
            nlohmann::json args = nlohmann::json::array();
            bool cut = false;
            for (std::size_t i = 0; i < strings.size(); i++) {
                if (i > 0)
                    args.push_back(strings[i]);
                cut = cut || is_cut(event, i);
            }
            write_json_record(
                {{"ts_ns", unix_ns},
                 {"pid", event.pid},
                 {"tid", event.tid},
                 {"ppid", event.ppid},
                 {"uid", event.uid},
                 {"comm", comm},
                 {"ret", event.retval},
                 {"errno", event.retval < 0 ? -event.retval : 0},
                 {"filename", strings.empty() ? "" : strings[0]},
                 {"args", args},
                 {"args_truncated", cut},
                 {"more_args", event.more_args != 0},
                 {"syscall", event.syscall == EXECSNOOP_EXECVEAT ? "execveat" : "execve"}});
            return;
        }
        if (options_.common.timestamp)
            std::printf("%-8s ", clock_time(unix_ns).c_str());
        if (options_.since_start)
            std::printf("%-8.3f ", static_cast<double>(unix_ns - start_ns_) / 1e9);
        if (options_.print_uid)
            std::printf("%-6u ", event.uid);
        std::printf("%-16s %-6u %-6u %3d ", comm.c_str(), event.pid, event.ppid, event.retval);
        std::string text;
        for (std::size_t i = 0; i < strings.size(); i++) {
            if (i > 0)
                text += ' ';
            text += options_.quote ? quoted(strings[i]) : strings[i];
            if (is_cut(event, i))
                text += "...";
        }
        if (event.more_args)
            text += " ...";
        std::printf("%s\n", text.c_str());
    }

  private:
    // -q: "arg", with ", tab and newline escaped.
    static std::string quoted(const std::string& arg) {
        std::string out = "\"";
        for (char c : arg) {
            if (c == '"')
                out += "\\\"";
            else if (c == '\t')
                out += "\\t";
            else if (c == '\n')
                out += "\\n";
            else
                out += c;
        }
        return out + '"';
    }

    const Options& options_;
    KernelClock clock_;
    std::int64_t start_ns_;
};

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    const bool line = !options.line.empty();
    if (line) {
        auto loop = features::helper(BPF_FUNC_loop, "bpf_loop");
        if (!loop)
            throw Error("-l needs the bpf_loop helper (Linux 5.17 or later): " + loop.reason);
    }
    StopSignals stop;

    auto skel = execsnoop::open({options.failed, options.max_args, options.name, options.line});
    run_events<execsnoop_event, Printer>(skel, options.filter, stop, options.common,
                                         {"Tracing exec syscalls... Hit Ctrl-C to end.",
                                          seconds(options.duration_s), &skel->bss->calls_dropped},
                                         options);
    return 0;
}

int execsnoop_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace exec syscalls: execve(2) and execveat(2), as they return, with the path and\n"
        "arguments. Every filter, -n and -l included, is applied in the kernel.\n\n"
        "USAGE: execsnoop [-h] [-T] [-t] [-x] [-u UID] [-q] [-n NAME] [-l LINE] [-U] [-c CG]\n"
        "                 [--max-args MAX_ARGS] [-d DURATION] [--json]\n\n"
        "EXAMPLES:\n"
        "   execsnoop           # trace all exec() syscalls\n"
        "   execsnoop -x        # include failed exec()s\n"
        "   execsnoop -T        # include time (HH:MM:SS)\n"
        "   execsnoop -U        # include UID\n"
        "   execsnoop -u 1000   # only trace UID 1000\n"
        "   execsnoop -t        # include timestamps\n"
        "   execsnoop -q        # add \"quotemarks\" around arguments\n"
        "   execsnoop -n main   # only print command lines containing \"main\"\n"
        "   execsnoop -l tpkg   # only print command where arguments contains \"tpkg\"\n"
        "   execsnoop -c CG     # only trace processes in cgroup v2 directory CG\n"
        "   execsnoop --json    # one JSON object per call, and a summary at the end\n\n"
        "Each argument keeps at most 127 bytes: a longer one is cut and shown with \"...\"\n"
        "after it; \" ...\" at the end means more arguments than --max-args.",
        "execsnoop"};
    app.add_flag("-T,--time", options.common.timestamp, "Include time column on output (HH:MM:SS)");
    app.add_flag("-t,--timestamp", options.since_start,
                 "Include timestamp on output (seconds since the start)");
    app.add_flag("-x,--fails", options.failed, "Include failed exec()s");
    add_uid_option(app, options.filter, "Trace this UID only");
    app.add_flag("-q,--quote", options.quote, "Add quotemarks (\") around arguments");
    app.add_option("-n,--name", options.name, "Only print commands whose name (comm) contains this")
        ->check(bounded_text(EXECSNOOP_NAME_MAX, "a command name has at most 15 characters"));
    app.add_option("-l,--line", options.line,
                   "Only print commands where an argument (or the path) contains this")
        ->check(bounded_text(EXECSNOOP_LINE_MAX, "the kernel-side pattern limit"));
    app.add_flag("-U,--print-uid", options.print_uid, "Print UID column");
    add_cgroup_option(app, options.filter);
    app.add_option("--max-args", options.max_args,
                   "Maximum number of arguments parsed and displayed, defaults to 20")
        ->check(CLI::Range(1, EXECSNOOP_MAX_ARGS));
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(execsnoop, "execve(2) and execveat(2) calls with arguments, as they return",
               execsnoop_main, execsnoop_hooks);
