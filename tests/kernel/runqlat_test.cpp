// runqlat on the real kernel: a child keeps more threads runnable than there are CPUs, so they
// queue; runqlat, filtered to that child in the kernel, must count one latency per time a thread
// of it went back onto a CPU after waiting, which the kernel's own context-switch counts give.
#include "sched_busy.hpp"
#include "tool_run.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <set>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;
using testing::StartsWith;
namespace fs = std::filesystem;

namespace {

constexpr int spinners = 4; // on 2 CPUs: they must take turns

void spin_briefly() {
    busy_threads(spinners, 400ms);
}

long bucket_sum(const json& hist) {
    long sum = 0;
    for (const auto& bucket : hist["buckets"])
        sum += bucket["count"].get<long>();
    return sum;
}

class RunqlatHooks : public testing::TestWithParam<std::string> {};

} // namespace

// Each latency ends with a switch-in of a thread that waited: after a preemption (an
// involuntary switch), a sleep (a voluntary one, then a wakeup) or its creation. So the count
// must match the kernel's count of the child's context switches, give or take the threads' first
// runs and the final blocking switches, which have no switch-in yet. Run on each hook.
TEST_P(RunqlatHooks, PerProcessCountMatchesContextSwitches) {
    Child child(spin_briefly);
    long switches = 0;
    ToolRun run = run_around({"runqlat", "--json", "-v", "-P", "-p", std::to_string(child.pid())},
                             let_run_counting(child, switches), {.disable = GetParam()});
    const std::string& err = run.err;
    const std::vector<json>& lines = run.lines;

    const std::string hook = GetParam().empty() ? "raw_tp" : "tp_btf";
    for (const char* event : {"sched_wakeup", "sched_wakeup_new", "sched_switch"})
        EXPECT_NE(err.find(fmt::format("{}: using {}/{}", event, hook, event)), std::string::npos)
            << err;
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0]["unit"], "usecs");
    ASSERT_EQ(lines[0]["histograms"].size(), 1u) << "only the filtered PID may appear";
    const json& hist = lines[0]["histograms"][0];
    EXPECT_EQ(hist["pid"], child.pid());
    EXPECT_EQ(hist["count"].get<long>(), bucket_sum(hist));
    // Four threads spinning 400 ms on two CPUs are preempted many times over.
    EXPECT_GT(switches, 2 * spinners);
    EXPECT_NEAR(hist["count"].get<long>(), switches, spinners + 4)
        << "kernel counted " << switches << " switches";
}

INSTANTIATE_TEST_SUITE_P(Hooks, RunqlatHooks, testing::Values("", "raw_tp"), [](const auto& info) {
    return info.param.empty() ? std::string("RawTp") : std::string("TpBtfFallback");
});

// -L: one histogram per thread, keyed by tid: exactly the child's threads, with their names.
TEST(Runqlat, PerThreadKeysAreTheChildsThreads) {
    Child child(spin_briefly);
    std::vector<long> tids;
    ToolRun run = run_around({"runqlat", "--json", "-L", "-p", std::to_string(child.pid())}, [&] {
        let_run({&child})();
        tids = threads_of(child.pid());
    });
    const std::vector<json>& lines = run.lines;
    ASSERT_EQ(lines.size(), 1u);
    std::vector<long> seen;
    for (const auto& h : lines[0]["histograms"]) {
        ASSERT_TRUE(h.contains("tid")) << h.dump();
        EXPECT_FALSE(h.contains("pid"));
        EXPECT_GT(h["count"].get<long>(), 0);
        const long tid = h["tid"];
        seen.push_back(tid);
        EXPECT_EQ(h["comm"], tid == child.pid() ? "kernel_tests" : "ct-spin") << h.dump();
    }
    ASSERT_EQ(tids.size(), spinners + 1u);
    EXPECT_EQ(seen, tids) << lines[0].dump(); // the report is sorted by key, as threads_of
}

// --pidnss: the key is the inode of the child's PID namespace (as /proc/PID/ns/pid shows it).
TEST(Runqlat, PerPidNamespaceKeyIsTheNamespaceInode) {
    Child child(spin_briefly);
    struct stat ns {};
    ASSERT_EQ(::stat(("/proc/" + std::to_string(child.pid()) + "/ns/pid").c_str(), &ns), 0);
    auto lines = run_around({"runqlat", "--json", "--pidnss", "-p", std::to_string(child.pid())},
                            let_run({&child}))
                     .lines;
    ASSERT_EQ(lines.size(), 1u);
    ASSERT_EQ(lines[0]["histograms"].size(), 1u) << lines[0].dump();
    EXPECT_EQ(lines[0]["histograms"][0]["pidns"], ns.st_ino);
    EXPECT_GT(lines[0]["histograms"][0]["count"].get<long>(), 0);
}

// [interval] [count]: that many reports, then it stops by itself; -m makes them milliseconds.
TEST(Runqlat, IntervalAndCountReportThatManyTimes) {
    Child child([] { busy_threads(spinners, 2500ms); });
    ToolRun run =
        run_around({"runqlat", "--json", "-m", "-p", std::to_string(child.pid()), "1", "2"},
                   [&] { child.go(); }, {.ends_itself = true});
    const std::vector<json>& lines = run.lines;
    ASSERT_EQ(lines.size(), 2u) << run.out;
    for (const auto& line : lines) {
        EXPECT_EQ(line["unit"], "msecs");
        ASSERT_EQ(line["histograms"].size(), 1u) << line.dump();
        EXPECT_FALSE(line["histograms"][0].contains("pid"));
        EXPECT_GT(line["histograms"][0]["count"].get<long>(), 0) << line.dump();
        EXPECT_TRUE(line["histograms"][0]["buckets"][0].contains("min_msecs"));
    }
    EXPECT_LT(lines[0]["time_unix_ns"].get<long long>(), lines[1]["time_unix_ns"].get<long long>());
}

// Text output: libbpf-tools' layout, "pid = N COMM" above each histogram.
TEST(Runqlat, TextOutputHasLibbpfToolsLayout) {
    Child child(spin_briefly);
    ToolRun run =
        run_around({"runqlat", "-P", "-p", std::to_string(child.pid())}, let_run({&child}));
    EXPECT_TRUE(run.out.starts_with("Tracing run queue latency... Hit Ctrl-C to end.\n\n\npid = " +
                                    std::to_string(child.pid()) + " kernel_tests\n" +
                                    "     usecs               : count    distribution\n"))
        << run.out;
}

// -c: only tasks in the cgroup, though their wakers (the test, the kernel) are outside it.
TEST(Runqlat, CgroupFilterSeesOnlyThatCgroup) {
    const fs::path unified = "/sys/fs/cgroup/unified";
    if (!fs::exists(unified / "cgroup.procs"))
        GTEST_SKIP() << "no cgroup v2 hierarchy at " << unified;
    const fs::path cgroup = unified / ("coretrace-runqlat-" + std::to_string(::getpid()));
    fs::create_directory(cgroup);
    struct Remove {
        fs::path path;
        ~Remove() { ::rmdir(path.c_str()); }
    } remove{cgroup};

    Child inside(spin_briefly);
    Child outside(spin_briefly);
    std::ofstream(cgroup / "cgroup.procs") << inside.pid() << std::endl;

    long switches = 0;
    ToolRun run = run_around({"runqlat", "--json", "-P", "-c", cgroup.string()}, [&] {
        const long before = context_switches(inside.pid());
        inside.go();
        outside.go();
        EXPECT_TRUE(inside.wait_done());
        EXPECT_TRUE(outside.wait_done());
        switches = context_switches(inside.pid()) - before;
    });
    const std::vector<json>& lines = run.lines;
    ASSERT_EQ(lines.size(), 1u);
    ASSERT_EQ(lines[0]["histograms"].size(), 1u) << lines[0].dump();
    const json& hist = lines[0]["histograms"][0];
    EXPECT_EQ(hist["pid"], inside.pid()) << "PID " << hist["pid"] << " is not in the cgroup";
    // Its main thread was asleep, so unknown to the filter, until the test woke it: that one
    // wakeup may be missed; everything after is seen.
    EXPECT_NEAR(hist["count"].get<long>(), switches, spinners + 4);
}

TEST(Runqlat, BadInputIsOneLineAndNothingLoads) {
    EXPECT_EQ(expect_refused({"runqlat", "-p", "999999"}, 1),
              "runqlat: no process with PID 999999\n");
    expect_refused({"runqlat", "-c", "/nonexistent-cgroup"}, 1);
    expect_refused({"runqlat", "-P", "-L"}, 2);
    expect_refused({"runqlat", "--pidnss", "-P"}, 2);
    EXPECT_THAT(expect_refused({"runqlat", "0"}, 2), StartsWith("runqlat: interval: "));
    expect_refused({"runqlat", "1", "x"}, 2);
}

// Whichever way it ends, none of its programs, maps or links remain.
TEST(Runqlat, NothingOfTheToolRemains) {
    for (bool by_signal : {true, false}) {
        SCOPED_TRACE(by_signal ? "SIGTERM" : "count reached");
        std::vector<std::string> args = {"runqlat"};
        if (!by_signal)
            args.insert(args.end(), {"-L", "1", "1"});
        BpfObjects held = expect_cleanup(args, by_signal ? SIGTERM : 0, 3);
        EXPECT_EQ(held.progs.size(), 3u); // one hook per event
        EXPECT_EQ(held.links.size(), 3u);
        EXPECT_GE(held.maps.size(), 3u);
    }
}
