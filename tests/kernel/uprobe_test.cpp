// uprobe: every call of a function of our target program (tests/progs/uprobe_target.c) is
// reported with its arguments, each return with the right value, libc's malloc by library name
// with -p, and each bad target is refused in one line before anything loads.
#include "json_lines.hpp"
#include "subprocess.hpp"
#include "tool_run.hpp"
#include "scratch_dir.hpp"

#include <csignal>
#include <gtest/gtest.h>
#include <memory>
#include <set>
#include <string>

using namespace coretrace::test;

namespace {

const std::string kTarget = UPROBE_TARGET_BINARY;

// The target, started and waiting for SIGUSR1 (its "go").
std::unique_ptr<Subprocess> start_target(int adds, int sleeps, int mallocs) {
    auto target = std::make_unique<Subprocess>(std::vector<std::string>{
        kTarget, std::to_string(adds), std::to_string(sleeps), std::to_string(mallocs)});
    EXPECT_TRUE(target->wait_for("ready ")) << target->err();
    return target;
}

// Work for run_around: lets the target run to its end.
std::function<void()> let_target_run(Subprocess& target) {
    return [&target] {
        target.signal(SIGUSR1);
        EXPECT_EQ(target.wait(), 0) << target.err();
        EXPECT_NE(target.out().find("done "), std::string::npos) << target.out();
    };
}

// The records of process `pid`.
std::vector<nlohmann::json> of_process(const ToolRun& run, pid_t pid) {
    return records_with(event_records(run), "pid", static_cast<unsigned>(pid));
}

} // namespace

TEST(Uprobe, EveryCallWithItsArgumentsByPath) {
    constexpr int kCalls = 7;
    auto target = start_target(kCalls, 0, 0);
    auto run = run_around({"uprobe", "--json", "-a", "2", kTarget + ":ct_target_add"},
                          let_target_run(*target));
    auto records = of_process(run, target->pid());
    ASSERT_EQ(records.size(), static_cast<std::size_t>(kCalls)) << run.out;
    std::set<long> firsts;
    for (const auto& record : records) {
        EXPECT_EQ(record["kind"], "entry");
        EXPECT_EQ(record["function"], "ct_target_add");
        EXPECT_EQ(record["tid"], record["pid"]);
        EXPECT_EQ(record["comm"], "uprobe_target");
        ASSERT_EQ(record["args"].size(), 2u) << record;
        EXPECT_EQ(record["args"][1], 1000) << record;
        firsts.insert(record["args"][0].get<long>());
    }
    EXPECT_EQ(firsts, (std::set<long>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(Uprobe, ReturnValuesAndLatencyWithPid) {
    constexpr int kCalls = 5;
    auto target = start_target(kCalls, 0, 0);
    const std::string pid = std::to_string(target->pid());
    auto run = run_around({"uprobe", "--json", "--ret", "-p", pid, kTarget + ":ct_target_add"},
                          let_target_run(*target));
    auto records = of_process(run, target->pid());
    ASSERT_EQ(records.size(), static_cast<std::size_t>(kCalls)) << run.out;
    std::set<long> returned;
    for (const auto& record : records) {
        EXPECT_EQ(record["kind"], "return");
        ASSERT_TRUE(record.contains("args") && record.contains("latency_ns")) << record;
        EXPECT_EQ(record["ret"], record["args"][0].get<long>() + 1000) << record;
        EXPECT_GT(record["latency_ns"].get<long>(), 0);
        returned.insert(record["ret"].get<long>());
    }
    EXPECT_EQ(returned, (std::set<long>{1000, 1001, 1002, 1003, 1004}));
}

TEST(Uprobe, TextOutputShowsTheCall) {
    auto target = start_target(2, 0, 0);
    auto run = run_around(
        {"uprobe", "-r", "-a", "2", "-p", std::to_string(target->pid()), ":ct_target_add"},
        let_target_run(*target));
    EXPECT_NE(run.out.find("LAT(us) CALL"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("ct_target_add(1, 1000) = 1001"), std::string::npos) << run.out;
}

TEST(Uprobe, LibcMallocByLibraryNameInAProcess) {
    constexpr int kMallocs = 6;
    auto target = start_target(0, 0, kMallocs);
    auto run = run_around(
        {"uprobe", "--json", "-a", "1", "-p", std::to_string(target->pid()), "libc.so.6:malloc"},
        let_target_run(*target));
    auto records =
        records_with(of_process(run, target->pid()), "args", nlohmann::json::array({12345}));
    EXPECT_EQ(records.size(), static_cast<std::size_t>(kMallocs)) << run.out;
    for (const auto& record : records)
        EXPECT_NE(record["path"].get<std::string>().find("libc.so.6"), std::string::npos);
}

TEST(Uprobe, BadTargetsAreRefusedInOneLine) {
    expect_refused({"uprobe", "/no/such/program:main"}, 1, "No such file");
    expect_refused({"uprobe", "no_such_library_xyz:foo"}, 1, "no such program or library");
    expect_refused({"uprobe", kTarget + ":no_such_function"}, 1, "no function no_such_function");
    expect_refused({"uprobe", "-p", "999999", "libc.so.6:malloc"}, 1, "999999");
    expect_refused({"uprobe", ":ct_target_add"}, 1, "needs -p PID");
    expect_refused({"uprobe", kTarget + ":"}, 1, "expected LIBRARY:FUNCTION");
    expect_refused({"uprobe", "ct_target_add"}, 1, "expected LIBRARY:FUNCTION");
    expect_refused({"uprobe", "libc.so.6:stdout"}, 1, "not a function");
    // A library the process does not map: the probe would never fire.
    auto target = start_target(0, 0, 0);
    expect_refused({"uprobe", "-p", std::to_string(target->pid()), "libz.so.1:inflate"}, 1,
                   "does not map");
}

TEST(Uprobe, StrippedBinaryIsNamedAsSuch) {
    ScratchDir dir("uprobe");
    const std::string stripped = dir / "stripped_target";
    auto strip = run({"/usr/bin/strip", "-o", stripped, kTarget});
    if (strip.code != 0)
        GTEST_SKIP() << "strip(1) not available: " << strip.err;
    expect_refused({"uprobe", stripped + ":ct_target_add"}, 1, "stripped");
    // What .dynsym has stays traceable in a stripped file: main is not there, but libc's are.
    expect_refused({"uprobe", stripped + ":main"}, 1, "stripped");
}

TEST(Uprobe, NothingRemainsAfterExit) {
    expect_cleanup({"uprobe", "-r", "libc.so.6:malloc"}, SIGINT, 2);
    expect_cleanup({"uprobe", "libc.so.6:free"}, SIGTERM, 1);
    expect_cleanup({"uprobe", "-d", "1", "libc.so.6:free"}, 0, 1);
}
