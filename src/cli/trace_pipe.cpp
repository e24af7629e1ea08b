// `coretrace trace-pipe [-p PID] [-c COMM] [GREP]`: the bpf_printk output of every BPF program
// (seed §3.1.3, `cat trace_pipe`), filtered, and read from a tracefs instance of its own so that
// no other reader of trace_pipe loses a line to it.
#include "commands.hpp"

#include "coretrace/error.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/tool.hpp"
#include "coretrace/trace_pipe.hpp"

#include <algorithm>
#include <csignal>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <regex>
#include <unistd.h>

namespace coretrace::cli {
namespace {

using namespace std::chrono;

struct Options {
    CommonOptions common;
    long long pid = 0;
    std::string comm;
    std::string pattern;
    bool fixed = false;
    double duration_s = 0;
};

constexpr std::regex::flag_type regex_syntax = std::regex::extended;

class Filter {
  public:
    explicit Filter(const Options& options) : options_(options) {
        if (!options.pattern.empty() && !options.fixed)
            regex_ = std::regex(options.pattern, regex_syntax | std::regex::nosubs);
    }

    bool selects(const TraceLine& line) const {
        if (line.event != "bpf_trace_printk")
            return false;
        if (options_.pid && line.pid != options_.pid && line.tgid != options_.pid)
            return false;
        if (!options_.comm.empty() && line.comm != options_.comm)
            return false;
        if (options_.pattern.empty())
            return true;
        if (options_.fixed)
            return line.message.find(options_.pattern) != std::string::npos;
        return std::regex_search(line.message, *regex_);
    }

  private:
    const Options& options_;
    std::optional<std::regex> regex_;
};

// Prints one selected entry; false once stdout is gone (a closed pipe).
bool show(std::string_view entry, const TraceLine& line, bool json) {
    if (json) {
        emit_json_line(nlohmann::json{
            {"comm", line.comm},
            {"pid", line.pid},
            {"tgid", line.tgid ? nlohmann::json(*line.tgid) : nullptr},
            {"cpu", line.cpu},
            {"flags", line.flags},
            {"timestamp", std::stod(line.timestamp)},
            {"message",
             line.message}}.dump());
    } else {
        std::fwrite(entry.data(), 1, entry.size(), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
    }
    return !std::ferror(stdout);
}

int run(const Options& options) {
    if (::geteuid() != 0)
        throw Error("permission denied: reading the trace buffer needs root; run with sudo", EPERM);
    // A thread ID is accepted as well as a process ID: /proc/N exists for both.
    if (options.pid && ::access(fmt::format("/proc/{}", options.pid).c_str(), F_OK) != 0)
        throw Error(fmt::format("no process or thread with ID {}", options.pid), ESRCH);

    StopSignals stop;
    // `trace-pipe | head` closes stdout: stop cleanly (and remove the instance), not by SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    auto pipe = TracePipe::open({.record_tgid = true});
    if (pipe.consuming())
        std::fprintf(stderr, "trace-pipe: %s\n", pipe.fallback_note().c_str());
    announce(options.common,
             fmt::format("Reading bpf_printk output from {}... Hit Ctrl-C to end.", pipe.path()));

    const Filter filter(options);
    bool output_ok = true;
    auto handle = [&](std::string_view entry) {
        auto line = parse_trace_line(entry);
        if (line)
            name_unknown_task(*line);
        if (output_ok && line && filter.selects(*line))
            output_ok = show(entry, *line, options.common.json);
    };
    const auto deadline = options.duration_s > 0
                              ? steady_clock::now() + duration_cast<steady_clock::duration>(
                                                          duration<double>(options.duration_s))
                              : steady_clock::time_point::max();
    while (output_ok && !stop.requested() && steady_clock::now() < deadline) {
        pollfd fds[2] = {{stop.fd(), POLLIN, 0}, {pipe.fd(), POLLIN, 0}};
        // poll(2) wakes at the first entry; the timeout only checks the deadline.
        auto left = std::clamp<long long>(
            duration_cast<milliseconds>(deadline - steady_clock::now()).count(), 0, 1000);
        ::poll(fds, 2, static_cast<int>(left));
        pipe.read_available(handle);
    }
    return 0;
}

} // namespace

int trace_pipe_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "The bpf_printk output of the BPF programs on this machine (the bpf_trace_printk\n"
        "trace event), read from a tracefs instance of its own, so that other readers of\n"
        "trace_pipe keep every line.\n\n"
        "USAGE: coretrace trace-pipe [-p PID] [-c COMM] [-F] [GREP] [-d SECONDS] [--json]\n\n"
        "EXAMPLES:\n"
        "    coretrace trace-pipe                 # every bpf_printk line\n"
        "    coretrace trace-pipe -p 185          # written by process (or thread) 185\n"
        "    coretrace trace-pipe -c nginx 'err|fail'  # by tasks named nginx, matching the ERE\n"
        "    coretrace trace-pipe -F '[x]' -d 5   # containing the text [x], for 5 seconds",
        "trace-pipe"};
    app.add_option("GREP", options.pattern,
                   "Only messages matching this extended regular expression (with -F: "
                   "containing this text)");
    app.add_flag("-F,--fixed-strings", options.fixed, "GREP is plain text, not a regex");
    app.add_option("-p,--pid", options.pid,
                   "Only lines written by this process (any of its threads) or this thread")
        ->check(positive_integer);
    app.add_option("-c,--comm", options.comm,
                   "Only lines whose command name is exactly this (as the kernel keeps it)")
        ->check(bounded_text(15, "the kernel keeps 15 bytes of a command name"));
    app.add_option("-d,--duration", options.duration_s, "Stop after this many seconds")
        ->check(positive_number);
    add_common_options(app, options.common, false);
    app.callback([&] {
        if (options.fixed || options.pattern.empty())
            return;
        try {
            std::regex compiled(options.pattern, regex_syntax);
        } catch (const std::regex_error& e) {
            throw CLI::ValidationError(
                "GREP", fmt::format("not a valid extended regular expression ({}); -F takes "
                                    "it as plain text",
                                    e.what()));
        }
    });
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace coretrace::cli
