// usdt: our target's USDT probes (tests/progs/uprobe_target.c) are reported at every firing with
// their arguments decoded, integers and strings, with and without a semaphore, found by binary
// or in a running process's mapped files; each bad probe or target is refused in one line.
#include "json_lines.hpp"
#include "subprocess.hpp"
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>
#include <memory>
#include <regex>
#include <set>
#include <string>

using namespace coretrace::test;

namespace {

const std::string kTarget = UPROBE_TARGET_BINARY;

// The target, waiting for SIGUSR1; with `hold`, for a second round of the gated probe after a
// second SIGUSR1.
std::unique_ptr<Subprocess> start_target(int adds, bool hold = false) {
    std::vector<std::string> argv{kTarget, std::to_string(adds), "0", "0"};
    if (hold)
        argv.emplace_back("hold");
    auto target = std::make_unique<Subprocess>(argv);
    EXPECT_TRUE(target->wait_for("ready ")) << target->err();
    return target;
}

std::function<void()> let_target_run(Subprocess& target) {
    return [&target] {
        target.signal(SIGUSR1);
        EXPECT_EQ(target.wait(), 0) << target.err();
    };
}

std::vector<nlohmann::json> of_process(const ToolRun& run, pid_t pid) {
    return records_with(event_records(run), "pid", static_cast<unsigned>(pid));
}

// "gated=N semaphore=S" from the target's last line.
std::pair<long, long> gated_line(const std::string& out) {
    std::smatch match;
    if (!std::regex_search(out, match, std::regex("gated=(\\d+) semaphore=(\\d+)")))
        return {-1, -1};
    return {std::stol(match[1]), std::stol(match[2])};
}

} // namespace

TEST(Usdt, ProbeWithoutSemaphoreByBinary) {
    constexpr int kFirings = 6;
    auto target = start_target(kFirings);
    auto run = run_around({"usdt", "--json", "-s", "2", kTarget, "coretrace_target:plain"},
                          let_target_run(*target));
    auto records = of_process(run, target->pid());
    ASSERT_EQ(records.size(), static_cast<std::size_t>(kFirings)) << run.out;
    std::set<long> seen;
    for (const auto& record : records) {
        EXPECT_EQ(record["provider"], "coretrace_target");
        EXPECT_EQ(record["name"], "plain");
        ASSERT_EQ(record["args"].size(), 3u) << record;
        const long i = record["args"][0];
        EXPECT_EQ(record["args"][1], -5 * i) << record;
        EXPECT_EQ(record["strings"][2], "plain") << record;
        EXPECT_TRUE(record["strings"][0].is_null());
        seen.insert(i);
    }
    EXPECT_EQ(seen, (std::set<long>{0, 1, 2, 3, 4, 5}));
    // Nobody set the other probe's semaphore: it never fired.
    EXPECT_EQ(gated_line(target->out()), std::make_pair(0L, 0L)) << target->out();
}

TEST(Usdt, ProbeWithSemaphoreInARunningProcess) {
    constexpr int kFirings = 4;
    auto target = start_target(kFirings);
    auto run = run_around({"usdt", "--json", "-s", "1", "-p", std::to_string(target->pid()),
                           "coretrace_target:gated"},
                          let_target_run(*target));
    auto records = of_process(run, target->pid());
    ASSERT_EQ(records.size(), static_cast<std::size_t>(kFirings)) << run.out;
    for (std::size_t i = 0; i < records.size(); i++) {
        EXPECT_EQ(records[i]["args"][0], static_cast<long>(i)) << records[i];
        EXPECT_EQ(records[i]["strings"][1], "gated") << records[i];
    }
    // The target saw its semaphore set (the kernel counts it up while the probe is attached)
    // at every call, and fired the probe each time.
    auto [gated, semaphore] = gated_line(target->out());
    EXPECT_EQ(gated, kFirings) << target->out();
    EXPECT_GE(semaphore, 1) << target->out();
}

TEST(Usdt, SemaphoreIsReleasedWhenTheTracerExits) {
    constexpr int kFirings = 3;
    auto target = start_target(kFirings, true);
    auto run = run_around(
        {"usdt", "--json", "-p", std::to_string(target->pid()), kTarget, "coretrace_target:gated"},
        [&] {
            target->signal(SIGUSR1);
            EXPECT_TRUE(target->wait_for("done ")) << target->out();
        });
    EXPECT_EQ(of_process(run, target->pid()).size(), static_cast<std::size_t>(kFirings)) << run.out;
    EXPECT_EQ(gated_line(target->out()), std::make_pair(long{kFirings}, 1L)) << target->out();
    // usdt has exited: the kernel counted the semaphore back down, so the probe stays off.
    target->signal(SIGUSR1);
    EXPECT_EQ(target->wait(), 0) << target->err();
    EXPECT_NE(target->out().find("again gated=0 semaphore=0"), std::string::npos) << target->out();
}

TEST(Usdt, TextOutputShowsDecodedArguments) {
    auto target = start_target(2);
    auto run =
        run_around({"usdt", "-s", "2", kTarget, "coretrace_target:plain"}, let_target_run(*target));
    EXPECT_NE(run.out.find("coretrace_target:plain(1, -5, \"plain\")"), std::string::npos)
        << run.out;
}

TEST(Usdt, BadProbesAreRefusedInOneLine) {
    expect_refused({"usdt", kTarget, "coretrace_target:no_such_probe"}, 1, "no USDT probe");
    expect_refused({"usdt", "/no/such/binary", "a:b"}, 1, "No such file");
    expect_refused({"usdt", "-p", "999999", "coretrace_target:plain"}, 1, "999999");
    expect_refused({"usdt", kTarget, "not_a_probe_name"}, 1, "PROVIDER:NAME");
    expect_refused({"usdt", "coretrace_target:plain"}, 1, "-p PID");
    auto target = start_target(0);
    expect_refused({"usdt", "-p", std::to_string(target->pid()), "coretrace_target:nope"}, 1,
                   "no USDT probe coretrace_target:nope in the files process");
}

TEST(Usdt, NothingRemainsAfterExit) {
    expect_cleanup({"usdt", kTarget, "coretrace_target:gated"}, SIGINT);
    expect_cleanup({"usdt", kTarget, "coretrace_target:plain"}, SIGTERM);
    expect_cleanup({"usdt", "-d", "1", kTarget, "coretrace_target:plain"}, 0);
}
