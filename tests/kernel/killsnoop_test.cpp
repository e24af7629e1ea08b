// killsnoop (sigsnoop -k) on the real kernel: the test calls kill(2), tkill(2) and tgkill(2)
// with known signals and targets, one of them a PID that does not exist; killsnoop must report
// each call with its signal, target and return value.
#include "tool_run.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <sys/syscall.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

// A PID no process has now (checked with signal 0), for the call that fails with ESRCH.
pid_t unused_pid() {
    for (pid_t pid = 4'000'000; pid > 1'000; pid -= 7919)
        if (::kill(pid, 0) == -1 && errno == ESRCH)
            return pid;
    return 0;
}

void ignore_usr_signals() {
    ::signal(SIGUSR1, SIG_IGN);
    ::signal(SIGUSR2, SIG_IGN);
}

} // namespace

// Each call of the family, with its return value; the one to a missing PID fails with ESRCH
// and generates no signal (no target name, no delivery result).
TEST(Killsnoop, ReportsEachCallAndItsResult) {
    Child child(ignore_usr_signals);
    child.go();
    ASSERT_TRUE(child.wait_done());
    const pid_t missing = unused_pid();
    ASSERT_NE(missing, 0);
    const pid_t self = ::getpid();
    const long tid = ::syscall(SYS_gettid);
    ToolRun traced = run_around({"killsnoop", "--json", "-v", "-p", std::to_string(self)}, [&] {
        EXPECT_EQ(::kill(child.pid(), SIGUSR1), 0);
        EXPECT_EQ(::syscall(SYS_tkill, child.pid(), SIGUSR2), 0);
        EXPECT_EQ(::syscall(SYS_tgkill, child.pid(), child.pid(), SIGUSR1), 0);
        EXPECT_EQ(::kill(missing, SIGUSR1), -1);
        EXPECT_EQ(errno, ESRCH);
    });
    const std::vector<json> records = event_records(traced);
    auto to_child = records_with(records, "tpid", child.pid());
    ASSERT_EQ(to_child.size(), 3u) << traced.err;
    EXPECT_EQ(to_child[0]["source"], "kill");
    EXPECT_EQ(to_child[0]["sig"], SIGUSR1);
    EXPECT_EQ(to_child[0]["code"], 0); // SI_USER
    EXPECT_EQ(to_child[1]["source"], "tkill");
    EXPECT_EQ(to_child[1]["sig"], SIGUSR2);
    EXPECT_EQ(to_child[1]["code"], -6); // SI_TKILL
    EXPECT_EQ(to_child[2]["source"], "tgkill");
    EXPECT_EQ(to_child[2]["sig"], SIGUSR1);
    for (const auto& r : to_child) {
        EXPECT_EQ(r["ret"], 0);
        EXPECT_EQ(r["pid"], self);
        EXPECT_EQ(r["tid"], tid);
        EXPECT_EQ(r["comm"], "kernel_tests");
        EXPECT_EQ(r["tcomm"], "kernel_tests");
        EXPECT_EQ(r["result"], "ignored");
    }
    auto failed = records_with(records, "tpid", missing);
    ASSERT_EQ(failed.size(), 1u) << traced.err;
    EXPECT_EQ(failed[0]["source"], "kill");
    EXPECT_EQ(failed[0]["sig"], SIGUSR1);
    EXPECT_EQ(failed[0]["ret"], -ESRCH);
    EXPECT_EQ(failed[0]["tcomm"], "");
    EXPECT_TRUE(failed[0]["result"].is_null());
}

// -x: only the failed call; sigsnoop -k is the same tool.
TEST(Killsnoop, FailedOnlyAndSigsnoopDashK) {
    Child child(ignore_usr_signals);
    child.go();
    ASSERT_TRUE(child.wait_done());
    const pid_t missing = unused_pid();
    ASSERT_NE(missing, 0);
    auto work = [&] {
        EXPECT_EQ(::kill(child.pid(), SIGUSR1), 0);
        EXPECT_EQ(::kill(missing, SIGUSR2), -1);
    };
    const std::string self = std::to_string(::getpid());
    for (const auto& tool : {std::vector<std::string>{"killsnoop", "-x"},
                             std::vector<std::string>{"sigsnoop", "-k", "-x"}}) {
        std::vector<std::string> args = tool;
        args.insert(args.end(), {"--json", "-v", "-p", self});
        ToolRun traced = run_around(args, work);
        const std::vector<json> records = event_records(traced);
        ASSERT_EQ(records.size(), 1u) << tool[0] << traced.err;
        EXPECT_EQ(records[0]["tpid"], missing);
        EXPECT_EQ(records[0]["sig"], SIGUSR2);
        EXPECT_EQ(records[0]["ret"], -ESRCH);
    }
}

// libbpf-tools' columns: RESULT is the call's return value.
TEST(Killsnoop, TextColumns) {
    const pid_t missing = unused_pid();
    ASSERT_NE(missing, 0);
    ToolRun run = run_around({"killsnoop", "-p", std::to_string(::getpid())},
                             [&] { EXPECT_EQ(::kill(missing, SIGTERM), -1); });
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_TRUE(
        run.out.starts_with("Tracing kill(2), tkill(2) and tgkill(2)... Hit Ctrl-C to end.\n"
                            "TIME     PID     COMM             SIG       TPID    RESULT\n"))
        << run.out;
    char tail[96];
    std::snprintf(tail, sizeof(tail), " %-7d %-16s %-9d %-7d %-6d\n", ::getpid(), "kernel_tests",
                  SIGTERM, missing, -ESRCH);
    EXPECT_NE(run.out.find(tail), std::string::npos) << run.out;
}

TEST(Killsnoop, BadInput) {
    expect_refused({"killsnoop", "-p", "999999"}, 1, "999999");
    expect_refused({"killsnoop", "-s", "SIGFOO"}, 2, "is not a signal");
}

TEST(Killsnoop, NothingRemainsAfterSigint) {
    expect_cleanup({"killsnoop"}, SIGINT, 6);
}

TEST(Killsnoop, NothingRemainsAfterSighup) {
    expect_cleanup({"killsnoop", "--json", "-s", "15"}, SIGHUP, 6);
}
