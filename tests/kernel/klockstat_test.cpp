// klockstat on the real kernel: two threads of a child map and unmap memory as fast as they can,
// each munmap and mmap taking their mm's mmap_lock for writing, so that they wait on each other;
// klockstat -p CHILD must see those waits, and only the child's.
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <dirent.h>
#include <set>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

// Two threads, 600 ms of mmap/munmap each (with a page touched, which takes the lock for
// reading too), then the child exits.
void mmap_storm() {
    std::atomic<bool> stop{false};
    auto work = [&stop] {
        while (!stop.load(std::memory_order_relaxed)) {
            void* p = ::mmap(nullptr, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                             -1, 0);
            if (p == MAP_FAILED)
                ::_exit(10);
            static_cast<volatile char*>(p)[0] = 1;
            ::munmap(p, 1 << 16);
        }
    };
    std::thread a(work), b(work);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    stop = true;
    a.join();
    b.join();
}

std::uint64_t total_count(const json& report, const char* rows) {
    std::uint64_t count = 0;
    for (const auto& row : report[rows])
        count += row["count"].get<std::uint64_t>();
    return count;
}

} // namespace

TEST(Klockstat, SeesTheWaitsOfAChildsThreads) {
    Child child(mmap_storm, /*exit_after=*/true);
    ToolRun run =
        run_around({"klockstat", "--json", "-p", std::to_string(child.pid())}, let_run({&child}));
    ASSERT_EQ(run.lines.size(), 1u) << run.out << run.err; // one report, at SIGINT
    const json& report = run.lines[0];
    EXPECT_EQ(report["per_thread"], false);
    EXPECT_EQ(report["dropped"], 0);
    ASSERT_FALSE(report["locks"].empty()) << "no contention seen: " << run.out;
    EXPECT_GT(total_count(report, "locks"), 0u);
    for (const auto& row : report["locks"]) {
        const auto count = row["count"].get<std::uint64_t>();
        const auto total = row["total_ns"].get<std::uint64_t>();
        EXPECT_GT(count, 0u) << row;
        EXPECT_GT(total, 0u) << row;
        EXPECT_GT(row["max_ns"].get<std::uint64_t>(), 0u) << row;
        EXPECT_LE(row["max_ns"].get<std::uint64_t>(), total) << row;
        EXPECT_EQ(row["avg_ns"].get<std::uint64_t>(), total / count) << row;
        // -p is applied in the kernel: every wait was the child's, and it lasted under 5 s.
        EXPECT_EQ(row["max_pid"], child.pid()) << row;
        EXPECT_LT(row["max_ns"].get<std::uint64_t>(), 5'000'000'000u) << row;
        EXPECT_TRUE(row["lock_addr"].get<std::string>().starts_with("0x")) << row;
        EXPECT_FALSE(row["flags"].empty()) << row;
    }
}

// The classic tracepoints see the same waits.
TEST(Klockstat, ClassicTracepointFallback) {
    Child child(mmap_storm, /*exit_after=*/true);
    ToolRun run = run_around({"klockstat", "--json", "-v", "-p", std::to_string(child.pid())},
                             let_run({&child}), {.disable = "raw_tp"});
    EXPECT_NE(run.err.find("using tp/lock/contention_begin"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("using tp/lock/contention_end"), std::string::npos) << run.err;
    ASSERT_EQ(run.lines.size(), 1u) << run.out;
    ASSERT_FALSE(run.lines[0]["locks"].empty()) << run.out;
    for (const auto& row : run.lines[0]["locks"]) {
        EXPECT_EQ(row["max_pid"], child.pid()) << row;
        EXPECT_GT(row["total_ns"].get<std::uint64_t>(), 0u) << row;
    }
}

// -P: one row per waiting thread of the child (never the main thread, which only sleeps and
// joins), with its name.
TEST(Klockstat, PerThread) {
    Child child(mmap_storm, /*exit_after=*/true);
    ToolRun run = run_around({"klockstat", "--json", "-P", "-p", std::to_string(child.pid())},
                             let_run({&child}));
    ASSERT_EQ(run.lines.size(), 1u) << run.out << run.err;
    const json& report = run.lines[0];
    EXPECT_EQ(report["per_thread"], true);
    ASSERT_FALSE(report["threads"].empty()) << run.out;
    EXPECT_LE(report["threads"].size(), 3u) << run.out;
    for (const auto& row : report["threads"]) {
        EXPECT_EQ(row["max_pid"], child.pid()) << row;
        EXPECT_EQ(row["tid"], row["max_tid"]) << row;
        EXPECT_EQ(row["comm"], "kernel_tests") << row;
        EXPECT_GT(row["count"].get<std::uint64_t>(), 0u) << row;
        EXPECT_GT(row["total_ns"].get<std::uint64_t>(), 0u) << row;
    }
}

// -L: a lock address filter applied in the kernel; an address no lock has sees nothing.
TEST(Klockstat, LockFilter) {
    Child child(mmap_storm, /*exit_after=*/true);
    ToolRun run =
        run_around({"klockstat", "--json", "-L", "0x10", "-p", std::to_string(child.pid())},
                   let_run({&child}));
    ASSERT_EQ(run.lines.size(), 1u) << run.out;
    EXPECT_TRUE(run.lines[0]["locks"].empty()) << run.out;
}

// Text: the acquisition table of libbpf-tools, rows per lock; -d ends it by itself.
TEST(Klockstat, TextAndDuration) {
    Child child(mmap_storm, /*exit_after=*/true);
    ToolRun run = run_around({"klockstat", "-d", "2", "-p", std::to_string(child.pid())},
                             let_run({&child}), {.ends_itself = true}); // no signal: -d 2
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_NE(run.out.find("                                 Lock  Avg Wait    Count   Max "
                           "Wait   Total Wait\n"),
              std::string::npos)
        << run.out;
    EXPECT_EQ(run.out.find("Hold"), std::string::npos) << run.out;
}

TEST(Klockstat, BadInput) {
    expect_refused({"klockstat", "-p", "999999"}, 1, "999999");
    expect_refused({"klockstat", "-t", "999999"}, 1, "999999");
    expect_refused({"klockstat", "-S", "hld_total"}, 1, "hold times are not measured");
    expect_refused({"klockstat", "-S", "acq_bogus"}, 1, "acq_bogus");
    expect_refused({"klockstat", "-L", "no_such_lock_symbol_xyz"}, 1, "no_such_lock_symbol_xyz");
    expect_refused({"klockstat", "-c", "pipe_"}, 1, "not supported yet");
    expect_refused({"klockstat", "-s", "4"}, 1, "not supported yet");
    expect_refused({"klockstat", "-i", "0"}, 2, "0");
}

TEST(Klockstat, NothingRemainsAfterSigint) {
    expect_cleanup({"klockstat", "-L", "0x1234"}, SIGINT);
}

TEST(Klockstat, NothingRemainsAfterDuration) {
    expect_cleanup({"klockstat", "-P", "--json", "-d", "1"}, 0);
}
