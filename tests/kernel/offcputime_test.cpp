// offcputime and wakeuptime on the real kernel: a target of ours (tests/progs/uprobe_target.c,
// frame pointers) sleeps 2 ms a known number of times from main (through ct_target_sleep_2ms and
// libc's clock_nanosleep) and exits; the time must be found off-CPU under that user stack and
// the kernel's nanosleep (offcputime), and woken by the hrtimer (wakeuptime), although the
// target has exited before the stacks are symbolized.
//
// The user stack reads main -> clock_nanosleep: libc's clock_nanosleep keeps no frame pointer,
// so a frame-pointer walk from inside it goes from it straight to its caller's caller (the
// return address into ct_target_sleep_2ms is on the stack, not in a frame record). Every
// frame-pointer unwinder (libbpf-tools', bcc's, perf's) sees the same.
#include "tool_run.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

const std::string target_binary = UPROBE_TARGET_BINARY;
constexpr int sleeps = 150; // of 2 ms each: at least 300 ms off-CPU

bool has_function(const json& frames, const std::string& name) {
    for (const auto& frame : frames)
        if (frame["function"] == name)
            return true;
    return false;
}

// The target's sleeps: clock_nanosleep in libc, called (through ct_target_sleep_2ms) from the
// target's main.
bool sleeping_stack(const json& user) {
    bool main = false;
    for (const auto& frame : user)
        main = main || (frame["function"] == "main" && frame.value("module", "") == target_binary);
    return main && !user.empty() && user[0]["function"] == "clock_nanosleep";
}

// Runs `tool --json -p TARGET ARGS` while the target sleeps `sleeps` times, then exits; returns
// the tool's lines and how long the target worked.
std::pair<ToolRun, std::chrono::microseconds> trace_sleeps(const std::string& tool,
                                                           std::vector<std::string> args) {
    Subprocess target({target_binary, "0", std::to_string(sleeps), "0"});
    EXPECT_TRUE(target.wait_for("ready ")) << target.err();
    std::vector<std::string> argv = {tool, "--json", "-p", std::to_string(target.pid())};
    argv.insert(argv.end(), args.begin(), args.end());
    std::chrono::microseconds worked{};
    auto run = run_around(argv, [&] {
        const auto began = std::chrono::steady_clock::now();
        target.signal(SIGUSR1);
        EXPECT_EQ(target.wait(), 0) << target.err();
        worked = std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - began);
    });
    return {run, worked};
}

} // namespace

TEST(Offcputime, FindsTheSleepsUnderTheSleepingFunction) {
    auto [run, worked] = trace_sleeps("offcputime", {});
    ASSERT_EQ(run.code, 0) << run.err;
    std::uint64_t in_sleep_us = 0;
    bool kernel_named = false;
    for (const auto& line : run.lines) {
        if (line.contains("summary")) {
            EXPECT_EQ(line["summary"]["stacks_missed"], 0);
            EXPECT_EQ(line["summary"]["blocks_dropped"], 0);
            continue;
        }
        if (!sleeping_stack(line["user_stack"]))
            continue;
        in_sleep_us += line["total_us"].get<std::uint64_t>();
        kernel_named = kernel_named || has_function(line["kernel_stack"], "do_nanosleep");
        EXPECT_EQ(line["comm"], "uprobe_target");
    }
    // Every sleep lasts at least 2 ms; together they cannot exceed the time the target worked.
    EXPECT_GE(in_sleep_us, sleeps * 2000u) << run.out;
    EXPECT_LE(in_sleep_us, static_cast<std::uint64_t>(worked.count())) << run.out;
    EXPECT_TRUE(kernel_named) << run.out;
}

TEST(Offcputime, MinimumBlockTimeLeavesShortBlocksOut) {
    // Nothing of the 2 ms sleeps lasts 50 ms.
    auto [run, worked] = trace_sleeps("offcputime", {"-m", "50000"});
    ASSERT_EQ(run.code, 0) << run.err;
    for (const auto& line : run.lines) {
        if (!line.contains("summary")) {
            EXPECT_FALSE(sleeping_stack(line["user_stack"])) << line.dump();
        }
    }
}

TEST(Offcputime, FoldedAndSvg) {
    Subprocess target({target_binary, "0", "20", "0"});
    ASSERT_TRUE(target.wait_for("ready "));
    const std::string svg = "/tmp/coretrace-offcpu-" + std::to_string(target.pid()) + ".svg";
    auto run = run_around(
        {"offcputime", "-f", "-U", "--svg", svg, "-p", std::to_string(target.pid())}, [&] {
            target.signal(SIGUSR1);
            EXPECT_EQ(target.wait(), 0);
        });
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_TRUE(run.out.starts_with("uprobe_target;")) << run.out;
    EXPECT_NE(run.out.find(";main;clock_nanosleep "), std::string::npos) << run.out;
    std::ifstream in(svg);
    const std::string text{std::istreambuf_iterator<char>(in), {}};
    EXPECT_NE(text.find("<title>clock_nanosleep ("), std::string::npos);
    std::remove(svg.c_str());
}

TEST(Wakeuptime, TheSleepsAreWokenByTheTimer) {
    auto [run, worked] = trace_sleeps("wakeuptime", {});
    ASSERT_EQ(run.code, 0) << run.err;
    std::uint64_t woken_us = 0;
    bool by_timer = false;
    for (const auto& line : run.lines) {
        if (line.contains("summary") || line["target"] != "uprobe_target")
            continue;
        woken_us += line["total_us"].get<std::uint64_t>();
        by_timer = by_timer || has_function(line["waker_kernel_stack"], "hrtimer_wakeup");
    }
    EXPECT_GE(woken_us, sleeps * 2000u) << run.out;
    EXPECT_LE(woken_us, static_cast<std::uint64_t>(worked.count())) << run.out;
    EXPECT_TRUE(by_timer) << run.out;
}

TEST(Offcputime, RefusesBadInputAndLeavesNothing) {
    expect_refused({"offcputime", "-p", "999999"}, 1, "999999");
    expect_refused({"offcputime", "-m", "100", "-M", "10"}, 1, "-M");
    expect_refused({"wakeuptime", "-p", "999999"}, 1, "999999");
    expect_cleanup({"offcputime"}, SIGINT);
    expect_cleanup({"wakeuptime"}, SIGTERM);
}
