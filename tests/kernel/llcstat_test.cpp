// llcstat: on a machine without a hardware PMU (this one) it exits 1 with one "no hardware PMU"
// line and loads nothing. The counting path is tested through the tool's test switch
// CORETRACE_LLCSTAT_SOFTWARE=1, which samples the software cpu-clock instead of the cache
// events: a child of ours burns a known amount of CPU time (from /proc/PID/schedstat), and the
// tool charges it that much, per process and per thread, within sampling error. Nothing remains
// loaded after the tool exits.
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"
#include "tool_run.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <sys/stat.h>
#include <time.h>

using namespace coretrace::test;

namespace {

constexpr long kPeriodNs = 1'000'000; // -c: one sample per millisecond of CPU time

bool has_hardware_pmu() {
    struct stat st {};
    return ::stat("/sys/bus/event_source/devices/cpu", &st) == 0 ||
           ::stat("/sys/bus/event_source/devices/cpu_core", &st) == 0;
}

// Sets CORETRACE_LLCSTAT_SOFTWARE=1 for the tools this test starts, while alive.
class SoftwareEvents {
  public:
    SoftwareEvents() { ::setenv("CORETRACE_LLCSTAT_SOFTWARE", "1", 1); }
    ~SoftwareEvents() { ::unsetenv("CORETRACE_LLCSTAT_SOFTWARE"); }
    SoftwareEvents(const SoftwareEvents&) = delete;
    SoftwareEvents& operator=(const SoftwareEvents&) = delete;
};

// CPU time the main thread of `pid` has run, in nanoseconds.
long cpu_time_ns(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/schedstat");
    long ns = -1;
    in >> ns;
    return ns;
}

// Spins until this thread has run for `ms` milliseconds of CPU time.
void burn(long ms) {
    auto thread_ns = [] {
        timespec now{};
        ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
        return now.tv_sec * 1'000'000'000L + now.tv_nsec;
    };
    const long end = thread_ns() + ms * 1'000'000L;
    volatile unsigned long sink = 0;
    while (thread_ns() < end)
        for (int i = 0; i < 10000; i++)
            sink = sink + static_cast<unsigned long>(i);
}

} // namespace

TEST(Llcstat, NoHardwarePmuIsOneLineAndLoadsNothing) {
    if (has_hardware_pmu())
        GTEST_SKIP() << "this machine has a hardware PMU";
    const auto before = programs_named({"llcstat_miss", "llcstat_ref"});
    expect_refused({"llcstat", "-d", "1"}, 1, "no hardware PMU on this machine");
    expect_refused({"llcstat", "-t", "--json", "-c", "1000"}, 1, "no hardware PMU on this machine");
    EXPECT_EQ(programs_named({"llcstat_miss", "llcstat_ref"}), before);
}

TEST(Llcstat, BadInputIsRefusedInOneLine) {
    expect_refused({"llcstat", "-c", "0"}, 2, "positive");
    expect_refused({"llcstat", "-d", "x"}, 2, "");
}

TEST(Llcstat, SoftwareSwitchCountsAChildsCpuTime) {
    SoftwareEvents software;
    long cpu_ns = 0;
    Child child([] { burn(400); });
    auto run = run_around({"llcstat", "--json", "-t", "-d", "3", "-c", std::to_string(kPeriodNs)},
                          [&] {
                              const long before = cpu_time_ns(child.pid());
                              let_run({&child})();
                              cpu_ns = cpu_time_ns(child.pid()) - before;
                          },
                          {.ends_itself = true});
    ASSERT_EQ(run.lines.size(), 1u) << run.out;
    const auto& report = run.lines[0];
    EXPECT_EQ(report["events"], "cpu-clock");
    EXPECT_EQ(report["sample_period"], kPeriodNs);
    EXPECT_EQ(report["samples_not_counted"], 0);
    long references = 0, misses = 0;
    for (const auto& entry : report["entries"]) {
        if (entry["pid"] != static_cast<unsigned>(child.pid()))
            continue;
        EXPECT_EQ(entry["tid"], entry["pid"]) << entry;
        EXPECT_EQ(entry["references"].get<long>() % kPeriodNs, 0) << entry;
        references += entry["references"].get<long>();
        misses += entry["misses"].get<long>();
    }
    // Both "events" are the same clock: each is charged the child's CPU time, within sampling
    // error (a sample per millisecond, so a few periods either way).
    ASSERT_GE(cpu_ns, 400'000'000L);
    EXPECT_GT(references, cpu_ns * 6 / 10) << report;
    EXPECT_LT(references, cpu_ns * 14 / 10) << report;
    EXPECT_GT(misses, cpu_ns * 6 / 10) << report;
    EXPECT_LT(misses, cpu_ns * 14 / 10) << report;
    long total = 0;
    for (const auto& entry : report["entries"])
        total += entry["references"].get<long>();
    EXPECT_EQ(report["total_references"], total);
}

TEST(Llcstat, SoftwareSwitchTextOutput) {
    SoftwareEvents software;
    Child child([] { burn(100); });
    auto run = run_around({"llcstat", "-d", "2", "-c", std::to_string(kPeriodNs)},
                          let_run({&child}), {.ends_itself = true});
    EXPECT_NE(run.out.find("Hit Ctrl-C to end.\n"
                           "PID      NAME             CPU     REFERENCE         MISS    HIT%\n"),
              std::string::npos)
        << run.out;
    const std::string pid = std::to_string(child.pid());
    EXPECT_NE(run.out.find("\n" + pid + std::string(9 - pid.size(), ' ')), std::string::npos)
        << run.out;
    EXPECT_NE(run.out.find("\nTotal References: "), std::string::npos) << run.out;
    EXPECT_NE(run.out.find(" Hit Rate: "), std::string::npos) << run.out;
}

TEST(Llcstat, NothingRemainsAfterExit) {
    SoftwareEvents software;
    expect_cleanup({"llcstat", "-c", std::to_string(kPeriodNs)}, SIGINT, 2);
    expect_cleanup({"llcstat", "-d", "1", "-c", std::to_string(kPeriodNs)}, 0, 2);
}
