// exitsnoop on the real kernel: children exit with codes the test chose, or are killed by a
// signal it sends; exitsnoop must report exactly those codes and signals for those PIDs.
#include "tool_run.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <sstream>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

// The one record of `pid` (fails the test when there is not exactly one).
json only_record(const std::vector<json>& records, pid_t pid) {
    auto found = records_with(records, "tid", pid);
    EXPECT_EQ(found.size(), 1u) << "records of " << pid;
    return found.empty() ? json::object() : found[0];
}

} // namespace

// Exit code 3, exit code 0, and SIGKILL: each reported once, with its code or signal, its
// parent (this test), its name and a plausible age.
TEST(Exitsnoop, ReportsCodesAndSignalsOfChildren) {
    Child three([] { ::_exit(3); });
    Child zero([] {}, /*exit_after=*/true);
    Child killed([] {}); // blocks after its work until killed
    ToolRun traced = run_around({"exitsnoop", "--json", "-v"}, [&] {
        three.go();
        zero.go();
        killed.go();
        ASSERT_TRUE(killed.wait_done());
        ::kill(killed.pid(), SIGKILL);
        EXPECT_EQ(three.reap(), 3);
        EXPECT_EQ(zero.reap(), 0);
        EXPECT_EQ(killed.reap(), 128 + SIGKILL);
    });
    const std::vector<json> records = event_records(traced);

    json r3 = only_record(records, three.pid()), r0 = only_record(records, zero.pid()),
         rk = only_record(records, killed.pid());
    EXPECT_EQ(r3["exit_code"], 3);
    EXPECT_EQ(r3["signal"], 0);
    EXPECT_EQ(r3["status"], 3 << 8);
    EXPECT_EQ(r0["exit_code"], 0);
    EXPECT_EQ(r0["signal"], 0);
    EXPECT_EQ(r0["status"], 0);
    EXPECT_EQ(rk["exit_code"], 0);
    EXPECT_EQ(rk["signal"], SIGKILL);
    EXPECT_EQ(rk["core_dumped"], false);
    for (const json& r : {r3, r0, rk}) {
        EXPECT_EQ(r["pid"], r["tid"]);
        EXPECT_EQ(r["ppid"], ::getpid());
        EXPECT_EQ(r["comm"], "kernel_tests");
        EXPECT_GT(r["age_ns"].get<std::uint64_t>(), 0u);
        EXPECT_LT(r["age_ns"].get<std::uint64_t>(), 60'000'000'000u);
        EXPECT_GT(r["ts_ns"].get<std::int64_t>(), 0);
    }
}

// -x: the exit with code 0 is left out; code 3 and the SIGKILL stay.
TEST(Exitsnoop, FailedOnly) {
    Child three([] { ::_exit(3); });
    Child zero([] {}, /*exit_after=*/true);
    Child killed([] { ::kill(::getpid(), SIGKILL); });
    ToolRun traced = run_around({"exitsnoop", "--json", "-v", "-x"}, [&] {
        three.go();
        zero.go();
        killed.go();
        EXPECT_EQ(three.reap(), 3);
        EXPECT_EQ(zero.reap(), 0);
        EXPECT_EQ(killed.reap(), 128 + SIGKILL);
    });
    const std::vector<json> records = event_records(traced);
    EXPECT_EQ(only_record(records, three.pid())["exit_code"], 3);
    EXPECT_EQ(only_record(records, killed.pid())["signal"], SIGKILL);
    EXPECT_TRUE(records_with(records, "pid", zero.pid()).empty());
    for (const auto& r : records)
        EXPECT_TRUE(r["exit_code"] != 0 || r["signal"] != 0) << r;
}

// -p keeps one process; -T adds its threads' exits, each with its own TID.
TEST(Exitsnoop, PidFilterAndThreads) {
    auto with_thread = [] {
        pid_t tid = 0;
        std::thread worker([&] { tid = static_cast<pid_t>(::syscall(SYS_gettid)); });
        worker.join();
        ::_exit(tid > 0 ? 5 : 1);
    };
    Child other([] { ::_exit(4); });
    Child process(with_thread);
    ToolRun by_process =
        run_around({"exitsnoop", "--json", "-v", "-p", std::to_string(process.pid())}, [&] {
            other.go();
            process.go();
            EXPECT_EQ(other.reap(), 4);
            EXPECT_EQ(process.reap(), 5);
        });
    const std::vector<json> by_process_records = event_records(by_process);
    ASSERT_EQ(by_process_records.size(), 1u);
    EXPECT_EQ(by_process_records[0]["pid"], process.pid());
    EXPECT_EQ(by_process_records[0]["tid"], process.pid());
    EXPECT_EQ(by_process_records[0]["exit_code"], 5);

    Child threaded(with_thread);
    ToolRun by_thread =
        run_around({"exitsnoop", "--json", "-v", "-T", "-p", std::to_string(threaded.pid())}, [&] {
            threaded.go();
            EXPECT_EQ(threaded.reap(), 5);
        });
    const std::vector<json> by_thread_records = event_records(by_thread);
    ASSERT_EQ(by_thread_records.size(), 2u);
    // The thread ends first, with status 0; then the process, with code 5.
    EXPECT_EQ(by_thread_records[0]["pid"], threaded.pid());
    EXPECT_NE(by_thread_records[0]["tid"], threaded.pid());
    EXPECT_EQ(by_thread_records[0]["exit_code"], 0);
    EXPECT_EQ(by_thread_records[1]["tid"], threaded.pid());
    EXPECT_EQ(by_thread_records[1]["exit_code"], 5);
}

// libbpf-tools' text columns and EXIT_CODE wording.
TEST(Exitsnoop, TextColumns) {
    Child three([] { ::_exit(3); });
    Child killed([] { ::kill(::getpid(), SIGKILL); });
    ToolRun run = run_around({"exitsnoop"}, [&] {
        three.go();
        killed.go();
        EXPECT_EQ(three.reap(), 3);
        EXPECT_EQ(killed.reap(), 128 + SIGKILL);
    });
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_TRUE(run.out.starts_with("Tracing process exits... Hit Ctrl-C to end.\n"
                                    "PCOMM            PID     PPID    TID     AGE(s)  EXIT_CODE\n"))
        << run.out;
    auto line_of = [&](pid_t pid) {
        char head[64];
        std::snprintf(head, sizeof(head), "%-16s %-7d %-7d %-7d ", "kernel_tests", pid, ::getpid(),
                      pid);
        std::istringstream out(run.out);
        std::string line;
        while (std::getline(out, line))
            if (line.starts_with(head))
                return line.substr(std::string(head).size());
        return std::string("(none)");
    };
    // AGE(s) is "%-7.2f": a child that lived well under a second shows 0.00 or so.
    EXPECT_TRUE(line_of(three.pid()).ends_with(" code 3")) << run.out;
    EXPECT_TRUE(line_of(killed.pid()).ends_with(" signal 9 (Killed)")) << run.out;
}

// With raw tracepoints turned off, the classic tracepoint reports the same exits.
TEST(Exitsnoop, ClassicTracepointFallback) {
    Child three([] { ::_exit(3); });
    Child killed([] { ::kill(::getpid(), SIGKILL); });
    ToolRun traced = run_around({"exitsnoop", "--json", "-v"},
                                [&] {
                                    three.go();
                                    killed.go();
                                    EXPECT_EQ(three.reap(), 3);
                                    EXPECT_EQ(killed.reap(), 128 + SIGKILL);
                                },
                                {.disable = "raw_tp"});
    const std::vector<json> records = event_records(traced);
    EXPECT_NE(traced.err.find("using tp/sched/sched_process_exit"), std::string::npos)
        << traced.err;
    EXPECT_EQ(only_record(records, three.pid())["exit_code"], 3);
    EXPECT_EQ(only_record(records, killed.pid())["signal"], SIGKILL);
    EXPECT_EQ(only_record(records, killed.pid())["ppid"], ::getpid());
}

TEST(Exitsnoop, BadInput) {
    expect_refused({"exitsnoop", "-p", "999999"}, 1, "999999");
    expect_refused({"exitsnoop", "-c", "/nonexistent-cgroup"}, 1, "/nonexistent-cgroup");
    expect_refused({"exitsnoop", "-p", "0"}, 2, "positive");
}

TEST(Exitsnoop, NothingRemainsAfterSigint) {
    expect_cleanup({"exitsnoop", "-T"}, SIGINT, 1);
}

TEST(Exitsnoop, NothingRemainsAfterDuration) {
    expect_cleanup({"exitsnoop", "-d", "1", "--json"}, 0, 1);
}
