// runqlat on the real kernel: a child keeps more threads runnable than there are CPUs, so they
// queue; runqlat, filtered to that child in the kernel, must count one latency per time a thread
// of it went back onto a CPU after waiting, which the kernel's own context-switch counts give.
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "sched_bad_input.hpp"
#include "sched_busy.hpp"
#include "subprocess.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <set>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int spinners = 4; // on 2 CPUs: they must take turns

void spin_briefly() {
    busy_threads(spinners, 400ms);
}

std::vector<std::string> runqlat_argv(std::vector<std::string> args) {
    args.insert(args.begin(), {coretrace_binary(), "runqlat", "--json"});
    return args;
}

// Runs runqlat with `args` while `child` does its work, stops it with SIGINT and returns its
// JSON Lines; `switches` (if given) gets the child's context switches meanwhile.
std::vector<json> trace_child(Child& child, const std::vector<std::string>& args,
                              long* switches = nullptr, const std::vector<std::string>& env = {},
                              std::string* err = nullptr) {
    Subprocess tool(runqlat_argv(args), [&] {
        for (const auto& e : env)
            ::putenv(const_cast<char*>(e.c_str()));
    });
    EXPECT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    const long before = context_switches(child.pid());
    child.go();
    EXPECT_TRUE(child.wait_done());
    if (switches)
        *switches = context_switches(child.pid()) - before;
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(), 0) << tool.err();
    if (err)
        *err = tool.err();
    return json_lines(tool.out());
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
    std::vector<std::string> env;
    if (!GetParam().empty())
        env.push_back("CORETRACE_DISABLE=" + GetParam());
    long switches = 0;
    std::string err;
    auto lines =
        trace_child(child, {"-v", "-P", "-p", std::to_string(child.pid())}, &switches, env, &err);

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
    Subprocess tool(runqlat_argv({"-L", "-p", std::to_string(child.pid())}));
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    ASSERT_TRUE(child.wait_done());
    const auto tids = threads_of(child.pid());
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(), 0) << tool.err();

    auto lines = json_lines(tool.out());
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
    auto lines = trace_child(child, {"--pidnss", "-p", std::to_string(child.pid())});
    ASSERT_EQ(lines.size(), 1u);
    ASSERT_EQ(lines[0]["histograms"].size(), 1u) << lines[0].dump();
    EXPECT_EQ(lines[0]["histograms"][0]["pidns"], ns.st_ino);
    EXPECT_GT(lines[0]["histograms"][0]["count"].get<long>(), 0);
}

// [interval] [count]: that many reports, then it stops by itself; -m makes them milliseconds.
TEST(Runqlat, IntervalAndCountReportThatManyTimes) {
    Child child([] { busy_threads(spinners, 2500ms); });
    Subprocess tool(runqlat_argv({"-m", "-p", std::to_string(child.pid()), "1", "2"}));
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    ASSERT_EQ(tool.wait(10s), 0) << tool.err();
    auto lines = json_lines(tool.out());
    ASSERT_EQ(lines.size(), 2u) << tool.out();
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
    Subprocess tool({coretrace_binary(), "runqlat", "-P", "-p", std::to_string(child.pid())});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    ASSERT_TRUE(child.wait_done());
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(), 0) << tool.err();
    EXPECT_TRUE(
        tool.out().starts_with("Tracing run queue latency... Hit Ctrl-C to end.\n\n\npid = " +
                               std::to_string(child.pid()) + " kernel_tests\n" +
                               "     usecs               : count    distribution\n"))
        << tool.out();
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

    Subprocess tool(runqlat_argv({"-P", "-c", cgroup.string()}));
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    const long before = context_switches(inside.pid());
    inside.go();
    outside.go();
    ASSERT_TRUE(inside.wait_done());
    ASSERT_TRUE(outside.wait_done());
    const long switches = context_switches(inside.pid()) - before;
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(), 0) << tool.err();

    auto lines = json_lines(tool.out());
    ASSERT_EQ(lines.size(), 1u);
    ASSERT_EQ(lines[0]["histograms"].size(), 1u) << lines[0].dump();
    const json& hist = lines[0]["histograms"][0];
    EXPECT_EQ(hist["pid"], inside.pid()) << "PID " << hist["pid"] << " is not in the cgroup";
    // Its main thread was asleep, so unknown to the filter, until the test woke it: that one
    // wakeup may be missed; everything after is seen.
    EXPECT_NEAR(hist["count"].get<long>(), switches, spinners + 4);
}

TEST(Runqlat, BadInputIsOneLineAndNothingLoads) {
    expect_bad_input("runqlat", {
                                    {{"-p", "999999"}, 1, "runqlat: no process with PID 999999\n"},
                                    {{"-c", "/nonexistent-cgroup"}, 1, "runqlat: "},
                                    {{"-P", "-L"}, 2, "runqlat: "},
                                    {{"--pidnss", "-P"}, 2, "runqlat: "},
                                    {{"0"}, 2, "runqlat: interval: "},
                                    {{"1", "x"}, 2, "runqlat: "},
                                });
}

// Whichever way it ends, none of its programs, maps or links remain.
TEST(Runqlat, NothingOfTheToolRemains) {
    for (bool by_signal : {true, false}) {
        std::vector<std::string> argv = {coretrace_binary(), "runqlat"};
        if (!by_signal)
            argv.insert(argv.end(), {"-L", "1", "1"});
        Subprocess tool(argv);
        ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
        BpfObjects held = held_by(tool.pid());
        EXPECT_EQ(held.progs.size(), 3u); // one hook per event
        EXPECT_EQ(held.links.size(), 3u);
        EXPECT_GE(held.maps.size(), 3u);
        if (by_signal)
            tool.signal(SIGTERM);
        EXPECT_EQ(tool.wait(10s), 0) << tool.err();
        EXPECT_TRUE(still_loaded(held, 3s).empty()) << (by_signal ? "SIGTERM" : "count reached");
    }
}
