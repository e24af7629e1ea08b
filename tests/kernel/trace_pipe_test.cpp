// coretrace trace-pipe on the real kernel: the bpf_printk lines hello makes for a child's writes,
// seen whole by several readers at once (each has a tracefs instance of its own, so nobody takes
// lines from anybody), its filters, the instance removed however it ends (and a killed run's
// instance removed by the next run), and its one-line errors. Other agents' BPF programs may
// print too: every check looks only at lines of this test's own children.
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <regex>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace coretrace::test;
namespace fs = std::filesystem;

namespace {

const std::string instances = "/sys/kernel/tracing/instances";

// The child's work: names itself (when asked), then exactly `n` write(2) calls.
void write_to_null(int n, const char* name = nullptr) {
    if (name)
        ::prctl(PR_SET_NAME, name);
    int fd = ::open("/dev/null", O_WRONLY);
    for (int i = 0; i < n; i++)
        if (::write(fd, "x", 1) != 1)
            ::_exit(2);
}

std::string comm_of(pid_t pid) {
    std::ifstream in(fmt::format("/proc/{}/comm", pid));
    std::string comm;
    std::getline(in, comm);
    return comm;
}

// What hello's BPF program prints for write #n (tools/hello/hello.bpf.c).
std::string hello_message(pid_t hello, int n, pid_t writer) {
    return fmt::format("coretrace-hello[{}]: write #{} by PID {}", hello, n, writer);
}

std::vector<std::string> args(std::initializer_list<std::string> rest) {
    std::vector<std::string> argv{coretrace_binary(), "trace-pipe"};
    argv.insert(argv.end(), rest);
    return argv;
}

// A trace-pipe reader, ready once its banner is out.
std::unique_ptr<Subprocess> start_reader(std::initializer_list<std::string> rest) {
    auto reader = std::make_unique<Subprocess>(args(rest));
    EXPECT_TRUE(reader->wait_for("Hit Ctrl-C")) << reader->err();
    return reader;
}

// Stops a reader once `last` has appeared in its output; returns its exit status.
int stop_after(Subprocess& reader, const std::string& last) {
    EXPECT_TRUE(reader.wait_for(last, 10s)) << reader.out() << reader.err();
    reader.signal(SIGINT);
    return reader.wait(10s);
}

// The trace_pipe files a process has open (from its /proc/PID/fd links).
std::vector<std::string> open_trace_pipes(pid_t pid) {
    std::vector<std::string> pipes;
    for (const auto& fd : fs::directory_iterator(fmt::format("/proc/{}/fd", pid))) {
        std::error_code ec;
        auto target = fs::read_symlink(fd.path(), ec).string();
        if (!ec && target.ends_with("/trace_pipe"))
            pipes.push_back(target);
    }
    return pipes;
}

// Runs hello -p `child` while `work` makes the child write; returns hello's PID after it exited
// by itself with every one of `writes` lines read (through its own instance).
pid_t hello_over(Child& child, int writes) {
    Subprocess hello({coretrace_binary(), "hello", "-p", std::to_string(child.pid()), "--json"});
    EXPECT_TRUE(hello.wait_for("Hit Ctrl-C")) << hello.err();
    EXPECT_EQ(open_trace_pipes(hello.pid()),
              std::vector<std::string>{
                  fmt::format("{}/coretrace-{}/trace_pipe", instances, hello.pid())});
    child.go();
    EXPECT_EQ(child.reap(), 0);
    EXPECT_EQ(hello.wait(10s), 0) << hello.err();
    auto lines = json_lines(hello.out());
    EXPECT_FALSE(lines.empty());
    if (!lines.empty()) {
        EXPECT_EQ(lines.back()["writes"], writes);
        EXPECT_EQ(lines.back()["trace_lines_shown"], writes);
    }
    EXPECT_FALSE(fs::exists(fmt::format("{}/coretrace-{}", instances, hello.pid())));
    return hello.pid();
}

} // namespace

TEST(TracePipe, ShowsExactlyTheHelloLinesOfAChild) {
    constexpr int writes = 25;
    Child child([] { write_to_null(writes); }, /*exit_after=*/true);
    const std::string comm = comm_of(child.pid());
    auto reader = start_reader({"--json", "-p", std::to_string(child.pid())});
    // It reads its own instance, not the global trace_pipe.
    EXPECT_EQ(open_trace_pipes(reader->pid()),
              std::vector<std::string>{
                  fmt::format("{}/coretrace-{}/trace_pipe", instances, reader->pid())});

    pid_t hello = hello_over(child, writes);
    ASSERT_EQ(stop_after(*reader, hello_message(hello, writes, child.pid())), 0) << reader->err();

    auto lines = json_lines(reader->out());
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(writes)) << reader->out();
    double previous = 0;
    int unnamed = 0;
    for (int i = 0; i < writes; i++) {
        const auto& line = lines[i];
        EXPECT_EQ(line["message"], hello_message(hello, i + 1, child.pid()));
        EXPECT_EQ(line["pid"], child.pid());
        // The kernel names a task from a small cache that process churn (a busy test run) can
        // evict, and learns a task's tgid only at its next context switch after an event; then
        // trace-pipe asks /proc, which fails once the child has exited: "<...>" and a null tgid
        // are the kernel's own "unknown", never a wrong name or number.
        if (line["comm"] == "<...>") {
            unnamed++;
        } else {
            EXPECT_EQ(line["comm"], comm);
        }
        if (!line["tgid"].is_null()) {
            EXPECT_EQ(line["tgid"], child.pid());
        }
        EXPECT_GE(line["cpu"].get<int>(), 0);
        EXPECT_LT(line["cpu"].get<long>(), ::sysconf(_SC_NPROCESSORS_CONF));
        EXPECT_FALSE(line["flags"].get<std::string>().empty());
        EXPECT_GE(line["timestamp"].get<double>(), previous);
        previous = line["timestamp"].get<double>();
    }
    EXPECT_LT(unnamed, writes) << "no line named its task";
    EXPECT_FALSE(fs::exists(fmt::format("{}/coretrace-{}", instances, reader->pid())));
}

// Three readers (two trace-pipes and hello) at once each get every line: none takes any from
// another. The text reader prints the lines as the kernel does, with the process ID column.
TEST(TracePipe, ReadersAtOnceEachSeeEveryLine) {
    constexpr int writes = 12;
    Child child([] { write_to_null(writes, "ct-tp-both"); }, /*exit_after=*/true);
    const std::string pid = std::to_string(child.pid());
    auto json_reader = start_reader({"--json", "-p", pid});
    auto text_reader = start_reader({"-p", pid});

    pid_t hello = hello_over(child, writes);
    const std::string last = hello_message(hello, writes, child.pid());
    ASSERT_EQ(stop_after(*json_reader, last), 0) << json_reader->err();
    ASSERT_EQ(stop_after(*text_reader, last), 0) << text_reader->err();

    auto lines = json_lines(json_reader->out());
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(writes)) << json_reader->out();
    for (int i = 0; i < writes; i++)
        EXPECT_EQ(lines[i]["message"], hello_message(hello, i + 1, child.pid()));

    // Text: the banner, then one kernel line per write.
    std::istringstream text(text_reader->out());
    std::string line;
    ASSERT_TRUE(std::getline(text, line));
    EXPECT_EQ(line, fmt::format("Reading bpf_printk output from {}/coretrace-{}/trace_pipe... Hit "
                                "Ctrl-C to end.",
                                instances, text_reader->pid()));
    for (int i = 0; i < writes; i++) {
        ASSERT_TRUE(std::getline(text, line)) << text_reader->out();
        // "<comm>-<tid> (<tgid>) [<cpu>]", the tgid right-aligned in 7 columns.
        EXPECT_TRUE(std::regex_search(
            line, std::regex(fmt::format(R"(^ *ct-tp-both-{} +\( *{}\) \[[0-9]+\] )", pid, pid))))
            << line;
        EXPECT_TRUE(
            line.ends_with(": bpf_trace_printk: " + hello_message(hello, i + 1, child.pid())))
            << line;
    }
    EXPECT_FALSE(std::getline(text, line)) << text_reader->out();
}

TEST(TracePipe, FiltersKeepOnlyMatchingLines) {
    constexpr int writes = 6;
    Child a([] { write_to_null(writes, "ct-tp-a"); }, /*exit_after=*/true);
    Child b([] { write_to_null(writes, "ct-tp-b"); }, /*exit_after=*/true);
    const std::string a_pid = std::to_string(a.pid()), b_pid = std::to_string(b.pid());
    auto by_pid = start_reader({"--json", "-p", a_pid});
    auto by_comm = start_reader({"--json", "-c", "ct-tp-b"});
    // An extended regex on the message: writes #2 and #3 of either child.
    auto by_regex =
        start_reader({"--json", fmt::format("write #(2|3) by PID ({}|{})$", a_pid, b_pid)});
    // Both filters at once, and nothing matches: pid of a, comm of b.
    auto none = start_reader({"--json", "-p", a_pid, "-c", "ct-tp-b"});
    // -F: the text as it is. "hello[" is no valid regex, and as a regex "write #4.by" would
    // match write #4.
    auto fixed_hit = start_reader({"--json", "-p", b_pid, "-F", "hello["});
    auto fixed_miss = start_reader({"--json", "-p", b_pid, "-F", "write #4.by"});

    pid_t hello_a = hello_over(a, writes);
    pid_t hello_b = hello_over(b, writes);
    const auto last_a = hello_message(hello_a, writes, a.pid());
    const auto last_b = hello_message(hello_b, writes, b.pid());
    ASSERT_EQ(stop_after(*by_pid, last_a), 0);
    ASSERT_EQ(stop_after(*by_comm, last_b), 0);
    ASSERT_EQ(stop_after(*by_regex, hello_message(hello_b, 3, b.pid())), 0);
    // The readers without a line to wait for: stopped after the others saw everything.
    none->signal(SIGINT);
    ASSERT_EQ(none->wait(10s), 0);
    ASSERT_EQ(stop_after(*fixed_hit, last_b), 0);
    fixed_miss->signal(SIGINT);
    ASSERT_EQ(fixed_miss->wait(10s), 0);

    auto messages = [](Subprocess& reader) {
        std::vector<std::string> out;
        for (const auto& line : json_lines(reader.out()))
            out.push_back(line["message"]);
        return out;
    };
    std::vector<std::string> expected_a, expected_b;
    for (int i = 1; i <= writes; i++) {
        expected_a.push_back(hello_message(hello_a, i, a.pid()));
        expected_b.push_back(hello_message(hello_b, i, b.pid()));
    }
    EXPECT_EQ(messages(*by_pid), expected_a);
    EXPECT_EQ(messages(*by_comm), expected_b);
    EXPECT_EQ(messages(*by_regex), (std::vector<std::string>{hello_message(hello_a, 2, a.pid()),
                                                             hello_message(hello_a, 3, a.pid()),
                                                             hello_message(hello_b, 2, b.pid()),
                                                             hello_message(hello_b, 3, b.pid())}));
    EXPECT_TRUE(messages(*none).empty()) << none->out();
    EXPECT_EQ(messages(*fixed_hit), expected_b);
    EXPECT_TRUE(messages(*fixed_miss).empty()) << fixed_miss->out();
}

class TracePipeStops : public testing::TestWithParam<int> {};

TEST_P(TracePipeStops, RemovesItsInstance) {
    auto reader = start_reader({});
    const std::string instance = fmt::format("{}/coretrace-{}", instances, reader->pid());
    EXPECT_TRUE(fs::exists(instance));
    reader->signal(GetParam());
    EXPECT_EQ(reader->wait(10s), 0) << reader->err();
    EXPECT_FALSE(fs::exists(instance));
}

INSTANTIATE_TEST_SUITE_P(TracePipeSignals, TracePipeStops, testing::Values(SIGINT, SIGTERM, SIGHUP),
                         [](const auto& info) { return std::string(sigabbrev_np(info.param)); });

TEST(TracePipe, DurationEndsItAndRemovesItsInstance) {
    Subprocess reader(args({"-d", "0.3"}));
    ASSERT_TRUE(reader.wait_for("Hit Ctrl-C")) << reader.err();
    EXPECT_TRUE(fs::exists(fmt::format("{}/coretrace-{}", instances, reader.pid())));
    EXPECT_EQ(reader.wait(10s), 0) << reader.err();
    EXPECT_TRUE(reader.err().empty()) << reader.err();
    EXPECT_FALSE(fs::exists(fmt::format("{}/coretrace-{}", instances, reader.pid())));
}

// SIGKILL leaves the instance behind; the next run removes it (its process is gone) and works.
TEST(TracePipe, NextRunRemovesAKilledRunsInstance) {
    std::string stale;
    {
        Subprocess killed(args({}));
        ASSERT_TRUE(killed.wait_for("Hit Ctrl-C")) << killed.err();
        stale = fmt::format("{}/coretrace-{}", instances, killed.pid());
        killed.signal(SIGKILL);
        EXPECT_EQ(killed.wait(10s), 128 + SIGKILL);
    }
    ASSERT_TRUE(fs::exists(stale));
    // An instance named after a live process is left alone (here, this test's own PID).
    const std::string live = fmt::format("{}/coretrace-{}-test", instances, ::getpid());
    ASSERT_TRUE(fs::create_directory(live));

    auto next = run(args({"-d", "0.2"}), 10s);
    EXPECT_EQ(next.code, 0) << next.err;
    EXPECT_FALSE(fs::exists(stale));
    EXPECT_TRUE(fs::exists(live));
    EXPECT_EQ(::rmdir(live.c_str()), 0);
}

TEST(TracePipe, BadInputIsOneLine) {
    struct Case {
        std::vector<std::string> argv;
        int code;
        std::string error;
    };
    const Case cases[] = {
        {args({"-p", "999999999"}), 1, "trace-pipe: no process or thread with ID 999999999\n"},
        {args({"-p", "0"}), 2,
         "trace-pipe: --pid: must be a positive integer of at most 1000000000, not '0' (see "
         "trace-pipe --help)\n"},
        {args({"-c", "a-name-of-16-byt"}), 2,
         "trace-pipe: --comm: must be 1 to 15 bytes long (the kernel keeps 15 bytes of a command "
         "name), not 16 bytes (see trace-pipe --help)\n"},
        {args({"write #(2"}), 2, ""},
        {args({"-d", "0"}), 2, ""},
        {args({"a", "b"}), 2, ""},
    };
    for (const auto& c : cases) {
        auto result = run(c.argv, 10s);
        EXPECT_EQ(result.code, c.code) << c.argv.back() << ": " << result.err;
        EXPECT_TRUE(result.out.empty()) << result.out;
        EXPECT_TRUE(result.err.starts_with("trace-pipe: ")) << result.err;
        EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
        if (!c.error.empty()) {
            EXPECT_EQ(result.err, c.error);
        }
    }
    // A bad regex is a usage error that says so; -F takes the same text literally.
    auto bad = run(args({"write #(2"}), 10s);
    EXPECT_NE(bad.err.find("GREP: not a valid extended regular expression"), std::string::npos)
        << bad.err;
    EXPECT_EQ(run(args({"-F", "write #(2", "-d", "0.1"}), 10s).code, 0);
}

// With instances turned off, trace-pipe reads the global trace_pipe and says so on stderr, or, when
// another process holds that file (Linux 6.5+ allows one reader), fails with one line saying so.
// It then takes lines from other readers (and makes their open fail with EBUSY): 0.1 s only.
TEST(TracePipe, FallsBackToTheGlobalTracePipe) {
    auto result =
        run(args({"-d", "0.1"}), 10s, [] { ::setenv("CORETRACE_DISABLE", "trace_instance", 1); });
    const std::string note = "trace-pipe: note: no tracefs instance (trace_instance disabled by "
                             "CORETRACE_DISABLE): reading /sys/kernel/tracing/trace_pipe, which "
                             "takes these lines from any other reader\n";
    if (result.code == 0) {
        EXPECT_EQ(result.err, note);
        // Then whatever bpf_printk lines the global buffer held (not this test's).
        EXPECT_TRUE(
            result.out.starts_with("Reading bpf_printk output from "
                                   "/sys/kernel/tracing/trace_pipe... Hit Ctrl-C to end.\n"))
            << result.out;
    } else {
        EXPECT_EQ(result.code, 1);
        EXPECT_EQ(result.err,
                  "trace-pipe: /sys/kernel/tracing/trace_pipe is being read by another "
                  "process (Linux 6.5+ allows one reader) and no tracefs instance could "
                  "be made (trace_instance disabled by CORETRACE_DISABLE): stop it and "
                  "retry\n");
    }
}
