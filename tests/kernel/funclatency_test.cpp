// funclatency: the calls of our target's functions (tests/progs/uprobe_target.c) are counted
// exactly, a 2 ms sleep lands in the 2048-4095 us (2-3 ms) bucket, and kernel functions are
// refused in one line on a kernel without fentry and kprobes.
#include "json_lines.hpp"
#include "subprocess.hpp"
#include "tool_run.hpp"

#include "coretrace/features.hpp"

#include <csignal>
#include <gtest/gtest.h>
#include <algorithm>
#include <memory>
#include <regex>
#include <string>

using namespace coretrace::test;

namespace {

const std::string kTarget = UPROBE_TARGET_BINARY;

std::unique_ptr<Subprocess> start_target(int adds, int sleeps) {
    auto target = std::make_unique<Subprocess>(
        std::vector<std::string>{kTarget, std::to_string(adds), std::to_string(sleeps), "0"});
    EXPECT_TRUE(target->wait_for("ready ")) << target->err();
    return target;
}

std::function<void()> let_target_run(Subprocess& target) {
    return [&target] {
        target.signal(SIGUSR1);
        EXPECT_EQ(target.wait(), 0) << target.err();
    };
}

// The histogram report of a run (its one JSON line).
nlohmann::json report_of(const ToolRun& run) {
    EXPECT_EQ(run.lines.size(), 1u) << run.out;
    return run.lines.empty() ? nlohmann::json{} : run.lines.back();
}

// Calls counted in the bucket whose lower bound is `min` (`unit`: "usecs", "msecs"...).
long bucket(const nlohmann::json& report, const std::string& unit, long min) {
    for (const auto& b : report["buckets"])
        if (b["min_" + unit] == min)
            return b["count"];
    return 0;
}

} // namespace

TEST(Funclatency, CountsEveryCallExactly) {
    constexpr int kCalls = 250;
    auto target = start_target(kCalls, 0);
    auto run =
        run_around({"funclatency", "--json", "-p", std::to_string(target->pid()), ":ct_target_add"},
                   let_target_run(*target));
    auto report = report_of(run);
    EXPECT_EQ(report["count"], kCalls) << run.out;
    EXPECT_EQ(report["unit"], "nsecs");
    EXPECT_EQ(report["function"], ":ct_target_add");
}

TEST(Funclatency, TwoMillisecondSleepInMicroseconds) {
    constexpr int kSleeps = 8;
    auto target = start_target(0, kSleeps);
    auto run = run_around({"funclatency", "--json", "-u", "-p", std::to_string(target->pid()),
                           kTarget + ":ct_target_sleep_2ms"},
                          let_target_run(*target));
    auto report = report_of(run);
    ASSERT_EQ(report["count"], kSleeps) << run.out;
    // Never less than 2 ms. On a busy machine a wake-up can come late, so a few calls may land
    // higher, but 2048-4095 us is where most are.
    long in_bucket = bucket(report, "usecs", 2048), longer = 0, most = 0;
    for (const auto& b : report["buckets"]) {
        most = std::max(most, b["count"].get<long>());
        if (b["min_usecs"] > 2048)
            longer += b["count"].get<long>();
    }
    EXPECT_EQ(in_bucket + longer, kSleeps) << report;
    EXPECT_EQ(in_bucket, most) << report;
    EXPECT_GE(in_bucket, kSleeps / 2) << report;
}

TEST(Funclatency, TwoMillisecondSleepInMillisecondsAsText) {
    constexpr int kSleeps = 4;
    auto target = start_target(0, kSleeps);
    auto run = run_around({"funclatency", "-m", "-p", std::to_string(target->pid()),
                           kTarget + ":ct_target_sleep_2ms"},
                          let_target_run(*target));
    // libbpf-tools' layout: the "msecs" header, the 2 ms calls on the "2 -> 3" row, the counts
    // of all rows adding up to the calls made.
    EXPECT_NE(run.out.find("     msecs               : count    distribution"), std::string::npos)
        << run.out;
    std::smatch match;
    ASSERT_TRUE(std::regex_search(run.out, match, std::regex(" 2 -> 3 +: (\\d+) "))) << run.out;
    EXPECT_GE(std::stol(match[1]), kSleeps / 2) << run.out;
    long total = 0;
    const std::regex row(" -> \\d+ +: (\\d+) ");
    for (auto it = std::sregex_iterator(run.out.begin(), run.out.end(), row);
         it != std::sregex_iterator(); ++it)
        total += std::stol((*it)[1]);
    EXPECT_EQ(total, kSleeps) << run.out;
    EXPECT_NE(run.out.find("Exiting trace of " + kTarget + ":ct_target_sleep_2ms"),
              std::string::npos)
        << run.out;
}

TEST(Funclatency, KernelFunctionsNeedFentryOrKprobes) {
    if (coretrace::features::kprobe())
        GTEST_SKIP() << "this kernel allows kprobes: kernel functions are traced";
    expect_refused({"funclatency", "do_nanosleep"}, 1, "allows neither");
}

TEST(Funclatency, BadInputIsRefusedInOneLine) {
    expect_refused({"funclatency", "-p", "999999", "libc.so.6:malloc"}, 1, "999999");
    expect_refused({"funclatency", kTarget + ":no_such_function"}, 1, "no function");
    expect_refused({"funclatency", "/no/such/program:main"}, 1, "No such file");
    expect_refused({"funclatency", "-m", "-u", "libc:malloc"}, 2);
}

TEST(Funclatency, NothingRemainsAfterExit) {
    expect_cleanup({"funclatency", "libc.so.6:malloc"}, SIGINT, 2);
    expect_cleanup({"funclatency", "-d", "1", "libc.so.6:free"}, 0, 2);
}
