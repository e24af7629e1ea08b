// runqlen on the real kernel: its cpu-clock timers must sample every online CPU at the frequency
// asked for, and while a child keeps more threads runnable than there are CPUs, some samples must
// find tasks waiting. Also the shared perf-event piece (coretrace/perf_event.hpp) on its own.
#include "sched_busy.hpp"
#include "tool_run.hpp"

#include "coretrace/error.hpp"
#include "coretrace/perf_event.hpp"

#include <algorithm>
#include <csignal>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <regex>
#include <sstream>

using namespace coretrace::test;
using nlohmann::json;
using testing::StartsWith;

namespace {

const std::vector<int> cpus = coretrace::perf::online_cpus();

long samples_at_least_one(const json& hist) {
    long n = 0;
    for (const auto& bucket : hist["buckets"])
        if (bucket["runqlen"].get<int>() >= 1)
            n += bucket["count"].get<long>();
    return n;
}

long bucket_sum(const json& hist) {
    long n = 0;
    for (const auto& bucket : hist["buckets"])
        n += bucket["count"].get<long>();
    return n;
}

// Runs runqlen --json with `args` (ending in "interval count") while a child spins `threads`
// threads, and returns its reports.
std::vector<json> sample_while_busy(const std::vector<std::string>& args, int threads) {
    Child child([threads] { busy_threads(threads, 3000ms); });
    std::vector<std::string> argv = {"runqlen", "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_around(argv, [&] { child.go(); }, {.ends_itself = true}).lines;
}

} // namespace

// 99 Hz on every CPU for 1 s: about 99 samples per CPU per report (at least half, on a loaded VM),
// some of them finding the child's threads queued.
TEST(Runqlen, SamplesEveryCpuAndSeesQueuedThreads) {
    const int threads = 2 * static_cast<int>(cpus.size()) + 2;
    auto reports = sample_while_busy({"1", "2"}, threads);
    ASSERT_EQ(reports.size(), 2u);
    for (const auto& report : reports) {
        EXPECT_EQ(report["frequency_hz"], 99);
        ASSERT_EQ(report["histograms"].size(), 1u) << report.dump();
        const json& hist = report["histograms"][0];
        EXPECT_FALSE(hist.contains("cpu"));
        const long expected = 99L * static_cast<long>(cpus.size());
        EXPECT_GE(hist["samples"].get<long>(), expected / 2) << report.dump();
        EXPECT_LE(hist["samples"].get<long>(), expected * 3 / 2) << report.dump();
        EXPECT_EQ(hist["samples"].get<long>(), bucket_sum(hist));
        EXPECT_GT(samples_at_least_one(hist), 0) << report.dump();
        EXPECT_GT(hist["occupancy_pct"].get<double>(), 0.0);
    }
}

// -C: one histogram per online CPU, each sampled; -f 199 roughly doubles the samples.
TEST(Runqlen, PerCpuAtAHigherFrequency) {
    const int threads = 2 * static_cast<int>(cpus.size()) + 2;
    auto reports = sample_while_busy({"-C", "-f", "199", "1", "1"}, threads);
    ASSERT_EQ(reports.size(), 1u);
    const json& histograms = reports[0]["histograms"];
    ASSERT_EQ(histograms.size(), cpus.size()) << reports[0].dump();
    long queued = 0;
    for (std::size_t i = 0; i < cpus.size(); i++) {
        EXPECT_EQ(histograms[i]["cpu"], cpus[i]);
        EXPECT_GE(histograms[i]["samples"].get<long>(), 199 / 2) << histograms[i].dump();
        EXPECT_LE(histograms[i]["samples"].get<long>(), 199 * 3 / 2) << histograms[i].dump();
        queued += samples_at_least_one(histograms[i]);
    }
    EXPECT_GT(queued, 0) << reports[0].dump();
}

// Text: libbpf-tools' linear histogram, its -C headers and its -O lines.
TEST(Runqlen, TextOutputHasLibbpfToolsLayout) {
    auto hist = run({coretrace_binary(), "runqlen", "-C", "1", "1"}, 10s);
    ASSERT_EQ(hist.code, 0) << hist.err;
    EXPECT_TRUE(hist.out.starts_with(
        "Sampling run queue length... Hit Ctrl-C to end.\n\ncpu = " + std::to_string(cpus[0]) +
        "\n     runqlen       : count     distribution\n"))
        << hist.out;
    const std::regex row(R"(        \d+ {0,9} : \d+ +\|\**\s*\|)");
    std::istringstream out(hist.out);
    std::string line;
    int rows = 0;
    while (std::getline(out, line))
        if (line.starts_with("        ")) {
            EXPECT_TRUE(std::regex_match(line, row)) << "'" << line << "'";
            rows++;
        }
    EXPECT_GT(rows, 0);

    auto occ = run({coretrace_binary(), "runqlen", "-O", "-T", "1", "1"}, 10s);
    ASSERT_EQ(occ.code, 0) << occ.err;
    EXPECT_TRUE(std::regex_match(occ.out, std::regex("Sampling run queue length\\.\\.\\. Hit "
                                                     "Ctrl-C to end\\.\n\n\\d\\d:\\d\\d:\\d\\d\n"
                                                     "runqocc: \\d+\\.\\d\\d%\n")))
        << occ.out;
}

TEST(Runqlen, BadInputIsOneLineAndNothingLoads) {
    expect_refused({"runqlen", "-f", "0"}, 2);
    expect_refused({"runqlen", "-f", "abc"}, 2);
    // Above kernel.perf_event_max_sample_rate (100000 by default, lowered by the kernel under
    // load, never raised past 1e9): refused when the timers are opened, before load.
    EXPECT_THAT(expect_refused({"runqlen", "-f", "1000000000"}, 1),
                StartsWith("runqlen: sample frequency 1000000000 Hz is above the kernel's"));
    EXPECT_THAT(expect_refused({"runqlen", "0"}, 2), StartsWith("runqlen: interval: "));
    expect_refused({"runqlen", "1", "2", "3"}, 2);
}

// Whichever way it ends, neither its program, its map nor its perf links remain.
TEST(Runqlen, NothingOfTheToolRemains) {
    for (bool by_signal : {true, false}) {
        SCOPED_TRACE(by_signal ? "SIGINT" : "count reached");
        std::vector<std::string> args = {"runqlen", "--json"};
        if (!by_signal)
            args.insert(args.end(), {"1", "1"});
        BpfObjects held = expect_cleanup(args, by_signal ? SIGINT : 0);
        EXPECT_EQ(held.progs.size(), 1u);
        EXPECT_EQ(held.links.size(), cpus.size()); // one perf-event link per CPU
    }
}

// The shared piece: CPU lists as sysfs writes them, and a clear error where there is no PMU.
TEST(PerfEvent, ParsesCpuLists) {
    using coretrace::perf::parse_cpu_list;
    EXPECT_EQ(parse_cpu_list("0-1\n"), (std::vector<int>{0, 1}));
    EXPECT_EQ(parse_cpu_list("0-3,5,7-8"), (std::vector<int>{0, 1, 2, 3, 5, 7, 8}));
    EXPECT_EQ(parse_cpu_list("4"), (std::vector<int>{4}));
    for (const char* bad : {"", "a", "1-", "3-1", "1,,2", "-1"})
        EXPECT_THROW(parse_cpu_list(bad), coretrace::Error) << bad;
    EXPECT_FALSE(cpus.empty());
}

TEST(PerfEvent, OpensOneEventPerCpuOrSaysWhyNot) {
    auto events = coretrace::perf::PerCpuEvents::open(coretrace::perf::EventSpec::cpu_clock(10));
    EXPECT_EQ(events.cpus(), cpus);

    coretrace::perf::EventSpec cycles;
    cycles.type = PERF_TYPE_HARDWARE;
    cycles.config = PERF_COUNT_HW_CPU_CYCLES;
    cycles.frequency = 10;
    cycles.name = "cycles";
    try {
        auto hardware = coretrace::perf::PerCpuEvents::open(cycles);
        GTEST_SKIP() << "this machine has a hardware PMU: nothing to refuse";
    } catch (const coretrace::Error& e) {
        EXPECT_TRUE(std::string(e.what()).starts_with("no hardware PMU on this machine"))
            << e.what();
    }
}
