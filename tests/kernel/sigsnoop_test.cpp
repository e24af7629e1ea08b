// sigsnoop on the real kernel: the test sends known signals to its children; sigsnoop must
// report each with its signal, sender, target, the target's name and the delivery result.
#include "tool_run.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <sstream>
#include <sys/syscall.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

// A child that ignores SIGUSR1 and SIGUSR2, then waits until the test ends it.
void ignore_usr_signals() {
    ::signal(SIGUSR1, SIG_IGN);
    ::signal(SIGUSR2, SIG_IGN);
}

} // namespace

// A SIGUSR1 from this process to a child that does not handle it: one record, sender and
// target exact, si_code SI_USER, delivered (and the child dies of it).
TEST(Sigsnoop, ReportsASignalToAChild) {
    Child child([] {}); // never started: it waits on its pipe, and SIGUSR1 ends it
    const pid_t self = ::getpid();
    ToolRun traced = run_around({"sigsnoop", "--json", "-v", "-p", std::to_string(self)}, [&] {
        ASSERT_EQ(::kill(child.pid(), SIGUSR1), 0);
        EXPECT_EQ(child.reap(), 128 + SIGUSR1);
    });
    const std::vector<json> records = event_records(traced);
    auto found = records_with(records, "tpid", child.pid());
    ASSERT_EQ(found.size(), 1u) << traced.err;
    const json& r = found[0];
    EXPECT_EQ(r["sig"], SIGUSR1);
    EXPECT_EQ(r["signal"], "SIGUSR1");
    EXPECT_EQ(r["pid"], self);
    EXPECT_EQ(r["tid"], ::syscall(SYS_gettid));
    EXPECT_EQ(r["comm"], "kernel_tests");
    EXPECT_EQ(r["tcomm"], "kernel_tests");
    EXPECT_EQ(r["ret"], 0);
    EXPECT_EQ(r["code"], 0); // SI_USER: kill(2)
    EXPECT_EQ(r["result"], "delivered");
    EXPECT_EQ(r["source"], "signal_generate");
    // -p is the sender: every record is from this process.
    for (const auto& record : records)
        EXPECT_EQ(record["pid"], self) << record;
}

// With raw tracepoints turned off, the classic tracepoint gives the same record: a tgkill(2)
// to a child that ignores the signal (si_code SI_TKILL, result "ignored").
TEST(Sigsnoop, ClassicTracepointFallback) {
    Child child(ignore_usr_signals);
    child.go();
    ASSERT_TRUE(child.wait_done());
    const pid_t self = ::getpid();
    ToolRun traced =
        run_around({"sigsnoop", "--json", "-v", "-p", std::to_string(self)},
                   [&] { ASSERT_EQ(::syscall(SYS_tgkill, child.pid(), child.pid(), SIGUSR2), 0); },
                   {.disable = "raw_tp"});
    const std::vector<json> records = event_records(traced);
    EXPECT_NE(traced.err.find("using tp/signal/signal_generate"), std::string::npos) << traced.err;
    auto found = records_with(records, "tpid", child.pid());
    ASSERT_EQ(found.size(), 1u) << traced.err;
    EXPECT_EQ(found[0]["sig"], SIGUSR2);
    EXPECT_EQ(found[0]["pid"], self);
    EXPECT_EQ(found[0]["tcomm"], "kernel_tests");
    EXPECT_EQ(found[0]["code"], -6); // SI_TKILL
    EXPECT_EQ(found[0]["result"], "ignored");
}

// -s keeps the chosen signals only (by number or name, several at once); an ignored signal is
// still generated, with the result "ignored".
TEST(Sigsnoop, SignalFilter) {
    Child child(ignore_usr_signals);
    child.go();
    ASSERT_TRUE(child.wait_done());
    auto send_both = [&] {
        for (int i = 0; i < 2; i++) {
            ASSERT_EQ(::kill(child.pid(), SIGUSR1), 0);
            ASSERT_EQ(::kill(child.pid(), SIGUSR2), 0);
        }
    };
    const std::string self = std::to_string(::getpid());
    ToolRun usr2 = run_around({"sigsnoop", "--json", "-v", "-p", self, "-s", "SIGUSR2"}, send_both);
    const std::vector<json> usr2_records = event_records(usr2);
    auto found = records_with(usr2_records, "tpid", child.pid());
    ASSERT_EQ(found.size(), 2u) << usr2.err;
    for (const auto& r : found) {
        EXPECT_EQ(r["sig"], SIGUSR2);
        EXPECT_EQ(r["result"], "ignored");
    }
    for (const auto& r : usr2_records)
        EXPECT_EQ(r["sig"], SIGUSR2) << r;

    ToolRun both = run_around({"sigsnoop", "--json", "-v", "-p", self, "-s", "10,USR2"}, send_both);
    const std::vector<json> both_records = event_records(both);
    EXPECT_EQ(records_with(both_records, "tpid", child.pid()).size(), 4u) << both.err;
}

// libbpf-tools' columns; -n prints the signal's name.
TEST(Sigsnoop, TextColumns) {
    Child child(ignore_usr_signals);
    child.go();
    ASSERT_TRUE(child.wait_done());
    ToolRun run = run_around({"sigsnoop", "-n", "-p", std::to_string(::getpid())},
                             [&] { EXPECT_EQ(::kill(child.pid(), SIGUSR1), 0); });
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_TRUE(run.out.starts_with("Tracing signals... Hit Ctrl-C to end.\n"
                                    "TIME     PID     COMM             SIG       TPID    RESULT\n"))
        << run.out;
    char tail[96];
    std::snprintf(tail, sizeof(tail), " %-7d %-16s %-9s %-7d %-6d", ::getpid(), "kernel_tests",
                  "SIGUSR1", child.pid(), 0);
    std::istringstream out(run.out);
    std::string line;
    int lines = 0;
    while (std::getline(out, line))
        if (line.size() == 8 + std::strlen(tail) && line.substr(8) == tail)
            lines++;
    EXPECT_EQ(lines, 1) << run.out;
}

TEST(Sigsnoop, BadInput) {
    expect_refused({"sigsnoop", "-p", "999999"}, 1, "999999");
    expect_refused({"sigsnoop", "-s", "0"}, 2, "'0' is not a signal");
    expect_refused({"sigsnoop", "-s", "SIGNOPE"}, 2, "'SIGNOPE' is not a signal");
    expect_refused({"sigsnoop", "-s", "65"}, 2, "'65' is not a signal");
}

TEST(Sigsnoop, NothingRemainsAfterSigterm) {
    expect_cleanup({"sigsnoop", "-x"}, SIGTERM, 1);
}

TEST(Sigsnoop, NothingRemainsAfterDuration) {
    expect_cleanup({"sigsnoop", "-d", "1", "-s", "9"}, 0, 1);
}
