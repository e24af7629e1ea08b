// The binary as a user runs it: every kind of bad input gets one clear line and a non-zero
// exit; help, version and busybox-style symlinks work; --json agrees with the text output; the
// binary carries its libraries.
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <csignal>
#include <filesystem>
#include <gtest/gtest.h>
#include <pthread.h>
#include <regex>
#include <sstream>
#include <unistd.h>

using namespace coretrace::test;
namespace fs = std::filesystem;

namespace {

int line_count(const std::string& text) {
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

void expect_one_line_error(const Completed& r, int code, const std::string& needle) {
    EXPECT_EQ(r.code, code) << r.err;
    EXPECT_EQ(line_count(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("Hit Ctrl-C"), std::string::npos) << "must fail before tracing";
}

Completed ct(std::vector<std::string> args) {
    args.insert(args.begin(), coretrace_binary());
    return run(args, std::chrono::seconds(30));
}

pid_t unused_pid() {
    for (pid_t pid = 4000000;; pid--)
        if (::kill(pid, 0) != 0 && errno == ESRCH)
            return pid;
}

} // namespace

TEST(Cli, HelpListsEveryToolWithOneLine) {
    auto r = ct({"--help"});
    EXPECT_EQ(r.code, 0);
    EXPECT_TRUE(std::regex_search(r.out, std::regex("\n  cpudist +on-CPU")));
    EXPECT_TRUE(std::regex_search(r.out, std::regex("\n  hello +count write")));
    const auto workbench = r.out.find("\nWorkbench:\n");
    ASSERT_NE(workbench, std::string::npos) << r.out;
    for (const char* command : {"audit", "bpf", "features", "list", "trace-pipe"})
        EXPECT_TRUE(std::regex_search(r.out.substr(workbench),
                                      std::regex(std::string("\n  ") + command + " +[a-z]")))
            << command;
}

TEST(Cli, VersionAndToolHelp) {
    auto v = ct({"--version"});
    EXPECT_EQ(v.code, 0);
    EXPECT_TRUE(std::regex_match(v.out, std::regex("coretrace [0-9]+\\.[0-9]+\\.[0-9]+\n")));
    auto h = ct({"cpudist", "--help"});
    EXPECT_EQ(h.code, 0);
    EXPECT_NE(h.out.find("-O,--offcpu"), std::string::npos);
    EXPECT_NE(h.out.find("cpudist -p 185"), std::string::npos);
}

TEST(Cli, SymlinkNamedAfterAToolRunsIt) {
    fs::path link = fs::temp_directory_path() / ("cpudist-" + std::to_string(::getpid()));
    fs::path dir = link;
    fs::create_directory(dir);
    fs::create_symlink(coretrace_binary(), dir / "cpudist");
    auto r = run({(dir / "cpudist").string(), "--help"});
    fs::remove_all(dir);
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("Summarize on-CPU time"), std::string::npos) << r.out;
}

// The build makes bin/NAME -> coretrace for every tool --help lists, killsnoop (registered by
// sigsnoop's file) included, and each runs its own tool.
TEST(Cli, BuildHasAnEntryPointForEveryTool) {
    auto help = ct({"--help"});
    const auto tools = help.out.find("\nTools:\n"), workbench = help.out.find("\nWorkbench:\n");
    ASSERT_NE(tools, std::string::npos);
    ASSERT_NE(workbench, std::string::npos);
    std::istringstream lines(help.out.substr(tools + 8, workbench - tools - 8));
    const fs::path bin = fs::path(coretrace_binary()).parent_path();
    int seen = 0;
    for (std::string line, name; std::getline(lines, line);) {
        if (!(std::istringstream(line) >> name))
            continue;
        seen++;
        EXPECT_TRUE(fs::is_symlink(bin / name)) << bin / name;
        auto r = run({(bin / name).string(), "--help"});
        EXPECT_EQ(r.code, 0) << name;
        EXPECT_NE(r.out.find("Usage: " + name), std::string::npos) << name << ": " << r.out;
    }
    EXPECT_GE(seen, 29);
}

TEST(Cli, UnknownToolOrFlag) {
    expect_one_line_error(ct({"nosuchtool"}), 2, "unknown tool or command 'nosuchtool'");
    expect_one_line_error(ct({"cpudist", "--bogus"}), 2, "cpudist:");
    expect_one_line_error(ct({"hello", "-x"}), 2, "hello:");
    auto none = ct({});
    EXPECT_EQ(none.code, 2);
}

TEST(Cli, BadIntervalAndCount) {
    expect_one_line_error(ct({"cpudist", "0"}), 2, "interval");
    expect_one_line_error(ct({"cpudist", "abc"}), 2, "interval");
    expect_one_line_error(ct({"cpudist", "1", "0"}), 2, "count");
    expect_one_line_error(ct({"cpudist", "1", "2", "3"}), 2, "cpudist:");
    expect_one_line_error(ct({"cpudist", "-P", "-L"}), 2, "excludes");
    expect_one_line_error(ct({"hello", "-d", "-1"}), 2, "duration");
    expect_one_line_error(ct({"hello", "-d", "inf"}), 2, "duration");
    expect_one_line_error(ct({"cpudist", "10000000000"}), 2, "interval");
}

TEST(Cli, PidThatDoesNotExist) {
    std::string pid = std::to_string(unused_pid());
    expect_one_line_error(ct({"cpudist", "-p", pid}), 1, "no process with PID " + pid);
    expect_one_line_error(ct({"hello", "-p", pid}), 1, "no process with PID " + pid);
    expect_one_line_error(ct({"cpudist", "-p", "0"}), 2, "pid");
}

TEST(Cli, ThreadIdIsNotAProcess) {
    pthread_t thread;
    int tids[2];
    ASSERT_EQ(::pipe(tids), 0);
    // A thread of ours: tell its TID through a pipe, then park.
    ASSERT_EQ(pthread_create(
                  &thread, nullptr,
                  [](void* fd) -> void* {
                      pid_t tid = static_cast<pid_t>(::gettid());
                      (void)!::write(*static_cast<int*>(fd), &tid, sizeof(tid));
                      ::pause();
                      return nullptr;
                  },
                  &tids[1]),
              0);
    pid_t tid = 0;
    ASSERT_EQ(::read(tids[0], &tid, sizeof(tid)), static_cast<ssize_t>(sizeof(tid)));
    auto r = ct({"cpudist", "-p", std::to_string(tid)});
    expect_one_line_error(r, 1, "is a thread of process " + std::to_string(::getpid()));
    pthread_cancel(thread);
    pthread_join(thread, nullptr);
    ::close(tids[0]);
    ::close(tids[1]);
}

TEST(Cli, CgroupPathMissingOrNotV2) {
    expect_one_line_error(ct({"cpudist", "-c", "/sys/fs/cgroup/unified/no-such-cgroup"}), 1,
                          "does not exist");
    expect_one_line_error(ct({"cpudist", "-c", "/tmp"}), 1, "not a cgroup v2 directory");
    if (fs::exists("/sys/fs/cgroup/cpu/cgroup.procs")) // a cgroup v1 hierarchy
        expect_one_line_error(ct({"cpudist", "-c", "/sys/fs/cgroup/cpu"}), 1,
                              "not a cgroup v2 directory");
}

TEST(Cli, NotRootIsAClearError) {
    // The build tree may sit where "nobody" cannot reach (a clone under /root): run a copy of the
    // static binary from a directory anyone can read.
    fs::path dir = fs::temp_directory_path() / ("coretrace-nonroot-" + std::to_string(::getpid()));
    fs::create_directory(dir);
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    fs::copy_file(coretrace_binary(), dir / "coretrace");
    auto drop = [] {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0)
            ::_exit(99);
    };
    for (const char* tool : {"cpudist", "hello", "features", "trace-pipe"}) {
        auto r = run({(dir / "coretrace").string(), tool}, std::chrono::seconds(20), drop);
        expect_one_line_error(r, 1, "needs root");
    }
    fs::remove_all(dir);
}

TEST(Cli, TracefsNotMountableIsAClearError) {
    // A private mount namespace in which /sys/kernel is an empty read-only tmpfs: tracefs is
    // neither mounted nor mountable there.
    if (::access("/usr/bin/unshare", X_OK) != 0)
        GTEST_SKIP() << "unshare(1) not installed";
    for (const char* command : {"hello", "trace-pipe"}) {
        auto r = run({"/usr/bin/unshare", "-m", "/bin/sh", "-c",
                      "mount --make-rprivate / && umount -l /sys/kernel/debug 2>/dev/null; "
                      "mount -t tmpfs -o ro none /sys/kernel && exec " +
                          coretrace_binary() + " " + command + " -d 1"});
        if (r.err.rfind("unshare:", 0) == 0 || r.err.rfind("mount:", 0) == 0)
            GTEST_SKIP() << "cannot build the test's mount namespace here (a chroot?): " << r.err;
        expect_one_line_error(r, 1, "tracefs is not mounted");
    }
}

TEST(Cli, JsonHoldsTheSameCountsAsText) {
    // Two cpudist instances, one text and one JSON, watch the same child at the same time. Each
    // program takes its own timestamps, so compare off-CPU time in milliseconds of 45 ms sleeps:
    // far from any bucket edge, both must agree on every bucket.
    Child child([] {
        for (int i = 0; i < 6; i++)
            ::usleep(45000);
    });
    std::string pid = std::to_string(child.pid());
    Subprocess text({coretrace_binary(), "cpudist", "-O", "-m", "-P", "-p", pid});
    Subprocess json({coretrace_binary(), "cpudist", "-O", "-m", "--json", "-P", "-p", pid});
    ASSERT_TRUE(text.wait_for("Hit Ctrl-C"));
    ASSERT_TRUE(json.wait_for("Hit Ctrl-C"));
    EXPECT_EQ(json.out().find("Hit Ctrl-C"), std::string::npos) << "banner belongs on stderr";
    child.go();
    ASSERT_TRUE(child.wait_done());
    text.signal(SIGINT);
    json.signal(SIGINT);
    ASSERT_EQ(text.wait(), 0);
    ASSERT_EQ(json.wait(), 0);

    std::map<long, long> text_counts; // bucket low bound -> count
    std::regex row(R"(^\s+(\d+) -> (\d+)\s+: (\d+)\s+\|)");
    std::istringstream in(text.out());
    std::string line;
    while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_search(line, m, row) && std::stol(m[3]))
            text_counts[std::stol(m[1])] = std::stol(m[3]);
    }
    EXPECT_NE(text.out().find("pid = " + pid + " "), std::string::npos) << text.out();
    EXPECT_NE(text.out().find("     msecs               : count    distribution\n"),
              std::string::npos);

    auto lines = json_lines(json.out());
    ASSERT_EQ(lines.size(), 1u);
    std::map<long, long> json_counts;
    for (const auto& h : lines[0]["histograms"]) {
        ASSERT_EQ(h["pid"], child.pid());
        for (const auto& b : h["buckets"])
            if (b["count"] != 0)
                json_counts[b["min_msecs"]] = b["count"];
    }
    EXPECT_EQ(json_counts[32], 6) << lines[0].dump();
    EXPECT_EQ(text_counts, json_counts) << text.out() << lines[0].dump();
}

TEST(Cli, TimestampFlagPrintsClockTimeBeforeEachInterval) {
    auto r = ct({"cpudist", "-T", "1", "2"});
    ASSERT_EQ(r.code, 0) << r.err;
    std::regex stamp("\n[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\n");
    auto stamps = std::distance(std::sregex_iterator(r.out.begin(), r.out.end(), stamp), {});
    EXPECT_EQ(stamps, 2) << r.out;
    EXPECT_NE(r.out.find("     usecs               : count    distribution"), std::string::npos);
}

TEST(Cli, BinaryCarriesLibbpfLibelfAndZlib) {
    auto r = run({"/usr/bin/ldd", coretrace_binary()});
    std::string all = r.out + r.err;
    for (const char* lib : {"libbpf", "libelf", "libz"})
        EXPECT_EQ(all.find(lib), std::string::npos) << lib << " is linked dynamically:\n" << all;
}
