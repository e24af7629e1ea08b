// hello: the seed's hello done as a user wants it. Traces write(2) of one process, shows its
// bpf_printk lines (read from a trace_pipe of its own, only this run's), and the exact count at
// exit.
#include "hello.skel.h"
#include "hello.h"

#include "coretrace/fd.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"
#include "coretrace/trace_pipe.hpp"

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <fmt/format.h>
#include <future>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace {

using namespace coretrace;
using namespace std::chrono;

constexpr std::string_view write_sections[] = {"tp/syscalls/sys_enter_write"};
constexpr hooks::EventHooks hello_hooks[] = {{"write(2) entry", write_sections}};

struct Options {
    CommonOptions common;
    pid_t pid = 0;
    double duration_s = 0;
};

// Without -p, hello traces a thread of its own that writes a dot to stderr every second, as the
// seed does. Only that thread is traced, so printing the trace lines does not feed back.
class DotWriter {
  public:
    DotWriter() {
        std::promise<pid_t> tid;
        auto ready = tid.get_future();
        thread_ = std::thread([this, tid = std::move(tid)]() mutable {
            tid.set_value(static_cast<pid_t>(::gettid()));
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return started_ || stopping_; });
            while (!stopping_) {
                ssize_t ignored = ::write(STDERR_FILENO, ".", 1);
                (void)ignored;
                wake_.wait_for(lock, 1s, [this] { return stopping_; });
            }
        });
        tid_ = ready.get();
    }
    ~DotWriter() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }
    pid_t tid() const { return tid_; }
    void start() {
        {
            std::lock_guard lock(mutex_);
            started_ = true;
        }
        wake_.notify_all();
    }

  private:
    std::mutex mutex_;
    std::condition_variable wake_;
    bool started_ = false, stopping_ = false;
    pid_t tid_ = 0;
    std::thread thread_;
};

// Keeps the trace entries tagged with this run's tag.
class TraceLines {
  public:
    TraceLines(std::string tag, bool json) : tag_(std::move(tag)), json_(json) {}

    // Reads and handles what is available now (the pipe is non-blocking).
    void read_available(TracePipe& pipe) {
        pipe.read_available([this](std::string_view entry) { handle(std::string(entry)); });
    }
    std::uint64_t shown() const { return shown_; }
    // False once stdout is gone (a closed pipe).
    bool output_ok() const { return !std::ferror(stdout); }

  private:
    void handle(const std::string& line) {
        auto at = line.find(tag_);
        if (at == std::string::npos)
            return;
        shown_++;
        if (!json_) {
            std::fwrite(line.data(), 1, line.size(), stdout);
            std::fputc('\n', stdout);
            std::fflush(stdout);
            return;
        }
        unsigned long long write_number = 0;
        unsigned pid = 0;
        std::sscanf(line.c_str() + at + tag_.size(), " write #%llu by PID %u", &write_number, &pid);
        emit_json_line(nlohmann::json{
            {"type", "write"}, {"write_number", write_number}, {"pid", pid}, {"trace_line", line}}
                           .dump());
    }

    std::string tag_;
    bool json_;
    std::uint64_t shown_ = 0;
};

int run(const Options& options) {
    sys::require_bpf_privileges();
    sys::require_tracefs();
    TaskFilter filter;
    filter.tgid = options.pid ? options.pid : ::getpid();
    filter.validate();

    StopSignals stop;
    // `hello | head` closes stdout: stop cleanly (and remove the instance), not by SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    std::unique_ptr<DotWriter> dots;
    if (!options.pid) {
        dots = std::make_unique<DotWriter>();
        filter.tid = dots->tid();
    }

    auto skel = Skeleton<hello_bpf>::open();
    hooks::prefer(skel.object(), hello_hooks[0]);
    filter.configure(skel->rodata);
    skel->rodata->tool_pid = static_cast<__u32>(::getpid());
    skel.load();

    // A tracefs instance of hello's own: other readers of trace_pipe keep their lines.
    auto pipe = TracePipe::open();
    if (pipe.consuming())
        std::fprintf(stderr, "hello: %s\n", pipe.fallback_note().c_str());
    // Ends the run when the traced process exits (pidfd: Linux 5.3+; without it, run on).
    UniqueFd target(options.pid ? static_cast<int>(syscall(SYS_pidfd_open, options.pid, 0)) : -1);
    skel.attach();

    announce(options.common, fmt::format("Tracing write(2) by PID {}{}... Hit Ctrl-C to end.",
                                         filter.tgid, dots ? " (hello itself, writing dots)" : ""));
    if (dots)
        dots->start();

    TraceLines lines(fmt::format("{}[{}]:", HELLO_TAG, ::getpid()), options.common.json);
    const auto deadline = options.duration_s > 0
                              ? steady_clock::now() + duration_cast<steady_clock::duration>(
                                                          duration<double>(options.duration_s))
                              : steady_clock::time_point::max();
    bool target_exited = false;
    while (!stop.requested() && !target_exited && lines.output_ok() &&
           steady_clock::now() < deadline) {
        pollfd fds[3] = {{stop.fd(), POLLIN, 0}, {pipe.fd(), POLLIN, 0}, {target.get(), POLLIN, 0}};
        auto left =
            deadline == steady_clock::time_point::max()
                ? 1000
                : std::clamp<long long>(
                      duration_cast<milliseconds>(deadline - steady_clock::now()).count(), 0, 1000);
        ::poll(fds, target ? 3 : 2, static_cast<int>(left));
        lines.read_available(pipe);
        target_exited = target && (fds[2].revents & POLLIN);
    }
    dots.reset();
    skel.detach();
    // Every bpf_printk happened inside a write(2) that has returned: its line is already in the
    // trace buffer, so one more read gets the rest.
    lines.read_available(pipe);

    const std::uint64_t writes = skel->bss->writes_seen;
    if (options.common.json) {
        emit_json_line(nlohmann::json{{"type", "summary"},
                                      {"pid", filter.tgid},
                                      {"writes", writes},
                                      {"trace_lines_shown", lines.shown()}}
                           .dump());
    } else {
        std::printf("\n%llu write(2) calls by PID %d", static_cast<unsigned long long>(writes),
                    filter.tgid);
        if (lines.shown() != writes)
            std::printf(" (%llu of their trace lines read: the trace buffer dropped the rest, or "
                        "another reader took them)",
                        static_cast<unsigned long long>(lines.shown()));
        std::printf("\n");
    }
    return 0;
}

int hello_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Count write(2) calls of a process and show their bpf_printk lines.\n"
                 "Without -p, hello traces a thread of its own that writes a dot each second.\n\n"
                 "EXAMPLES:\n"
                 "    hello            # trace hello's own dot writer\n"
                 "    hello -p 185     # trace PID 185's writes\n"
                 "    hello -p 185 -d 5  # ... for 5 seconds",
                 "hello"};
    app.add_option("-p,--pid", options.pid, "Trace this process (default: hello itself)")
        ->check(positive_integer);
    app.add_option("-d,--duration", options.duration_s, "Stop after this many seconds")
        ->check(positive_number);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(hello, "count write(2) calls of a process, showing its bpf_printk lines", hello_main,
               hello_hooks);
