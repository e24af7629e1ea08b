// javagc: there is no JVM on the test machines, so the target is a stand-in
// (tests/progs/javagc_target.c linked with tests/progs/libjvm_standin.c, a shared library named
// libjvm.so with HotSpot's USDT probes hotspot:gc__begin(full) and hotspot:gc__end behind
// semaphores). Each of its "collections" sleeps a known time between the two probes: exactly
// those above the threshold are reported, with the target's PID and durations that match the
// sleeps; the probes' semaphores are set while traced; a process without libjvm.so and other bad
// input are refused in one line; nothing remains loaded after the tool exits.
#include "json_lines.hpp"
#include "subprocess.hpp"
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

using namespace coretrace::test;

namespace {

const std::string kJavagcTarget = JAVAGC_TARGET_BINARY;

// The stand-in JVM, waiting for SIGUSR1; then one collection per sleep (microseconds).
std::unique_ptr<Subprocess> start_jvm(const std::vector<long>& sleeps_us) {
    std::vector<std::string> argv{kJavagcTarget};
    for (long sleep : sleeps_us)
        argv.push_back(std::to_string(sleep));
    auto target = std::make_unique<Subprocess>(argv);
    EXPECT_TRUE(target->wait_for("ready ")) << target->err();
    return target;
}

std::function<void()> let_jvm_run(Subprocess& target) {
    return [&target] {
        target.signal(SIGUSR1);
        EXPECT_EQ(target.wait(), 0) << target.err();
    };
}

// A collection that slept `sleep_us` took at least that long, and not much longer (the margin
// is for a loaded machine).
void expect_duration(const nlohmann::json& record, long sleep_us) {
    const long duration_ns = record["duration_ns"];
    EXPECT_GE(duration_ns, sleep_us * 1000) << record;
    EXPECT_LT(duration_ns, sleep_us * 1000 + 200'000'000L) << record;
}

} // namespace

TEST(Javagc, EachCollectionWithItsDuration) {
    const std::vector<long> sleeps{2000, 5000, 20000};
    auto jvm = start_jvm(sleeps);
    auto run =
        run_around({"javagc", "--json", "-p", std::to_string(jvm->pid())}, let_jvm_run(*jvm));
    auto records = records_with(event_records(run), "pid", static_cast<unsigned>(jvm->pid()));
    ASSERT_EQ(records.size(), sleeps.size()) << run.out;
    for (std::size_t i = 0; i < records.size(); i++) {
        expect_duration(records[i], sleeps[i]);
        EXPECT_EQ(records[i]["full"], i % 2 == 0) << records[i];
        EXPECT_EQ(records[i]["tid"], records[i]["pid"]) << records[i];
        EXPECT_EQ(records[i]["comm"], "javagc_target") << records[i];
    }
    // The probes are behind semaphores: the kernel set them while javagc was attached.
    EXPECT_NE(jvm->out().find("done collections=3 traced=3"), std::string::npos) << jvm->out();
}

TEST(Javagc, ThresholdLeavesOutShortCollections) {
    const std::vector<long> sleeps{500, 12000, 1000, 9000};
    auto jvm = start_jvm(sleeps);
    auto run = run_around({"javagc", "--json", "-t", "6000", "-p", std::to_string(jvm->pid())},
                          let_jvm_run(*jvm));
    auto records = records_with(event_records(run), "pid", static_cast<unsigned>(jvm->pid()));
    ASSERT_EQ(records.size(), 2u) << run.out;
    expect_duration(records[0], 12000);
    expect_duration(records[1], 9000);
    EXPECT_EQ(records[0]["full"], false);
    EXPECT_EQ(records[1]["full"], false);
}

TEST(Javagc, TextOutputInMicroseconds) {
    auto jvm = start_jvm({3000});
    auto run = run_around({"javagc", "-p", std::to_string(jvm->pid())}, let_jvm_run(*jvm));
    // The banner, the header, then one line per collection.
    const std::string header = "\nTIME     CPU     PID     GC TIME\n";
    const auto header_at = run.out.find(header);
    ASSERT_NE(header_at, std::string::npos) << run.out;
    const auto line_at = header_at + header.size();
    const std::string line = run.out.substr(line_at, run.out.find('\n', line_at) - line_at);
    unsigned cpu = 0, pid = 0;
    unsigned long long us = 0;
    char time[16] = {};
    ASSERT_EQ(std::sscanf(line.c_str(), "%15s %u %u %llu", time, &cpu, &pid, &us), 4) << line;
    EXPECT_EQ(pid, static_cast<unsigned>(jvm->pid()));
    EXPECT_GE(us, 3000u);
    EXPECT_LT(us, 203000u);
}

TEST(Javagc, BadInputIsRefusedInOneLine) {
    expect_refused({"javagc"}, 2, "--pid");
    expect_refused({"javagc", "-p", "999999"}, 1, "999999");
    expect_refused({"javagc", "-p", std::to_string(::getpid())}, 1, "maps no libjvm.so");
    expect_refused({"javagc", "-p", "1", "-t", "x"}, 2, "");
}

TEST(Javagc, NothingRemainsAfterExit) {
    auto jvm = start_jvm({});
    const std::string pid = std::to_string(jvm->pid());
    expect_cleanup({"javagc", "-p", pid}, SIGINT, 2);
    expect_cleanup({"javagc", "-d", "1", "-p", pid}, 0, 2);
}
