// runqslower on the real kernel: a child keeps more threads runnable than there are CPUs, so each
// waits for a CPU while the others run; with a low threshold runqslower must report waits of the
// child's threads only (filtered in the kernel), each above the threshold, and lose none.
#include "sched_busy.hpp"
#include "tool_run.hpp"

#include <algorithm>
#include <csignal>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

using namespace coretrace::test;
using nlohmann::json;
using testing::StartsWith;

namespace {

constexpr int spinners = 4; // on 2 CPUs: each waits while others run
constexpr long threshold_us = 1000;

} // namespace

// -p: every record is a wait of one of the child's threads, longer than the threshold; every
// spinning thread waited at least once; the task that ran instead is named.
TEST(Runqslower, ReportsTheChildsWaitsAboveTheThreshold) {
    Child child([] { busy_threads(spinners, 500ms); });
    ToolRun run = run_around(
        {"runqslower", "--json", "-p", std::to_string(child.pid()), std::to_string(threshold_us)},
        let_run({&child}));
    const std::vector<json> records = event_records(run);
    const auto tids = threads_of(child.pid());

    ASSERT_FALSE(records.empty()) << run.err;
    std::set<long> waited;
    bool replaced_by_sibling = false, named = false;
    for (const auto& r : records) {
        EXPECT_EQ(r["pid"], child.pid()) << r.dump();
        EXPECT_TRUE(std::binary_search(tids.begin(), tids.end(), r["tid"].get<long>())) << r.dump();
        EXPECT_GT(r["latency_us"].get<long>(), threshold_us) << r.dump();
        EXPECT_EQ(r["latency_us"].get<long>(), r["latency_ns"].get<long>() / 1000);
        EXPECT_NE(r["prev_tid"], r["tid"]);
        EXPECT_GE(r["cpu"].get<int>(), 0);
        // A new thread's first wait comes before it names itself: it still has its creator's.
        const std::set<std::string> names = {"ct-spin", "kernel_tests"};
        EXPECT_EQ(names.count(r["comm"]), 1u) << r.dump();
        if (r["tid"] != child.pid()) {
            waited.insert(r["tid"].get<long>());
            named = named || r["comm"] == "ct-spin";
        }
        if (std::binary_search(tids.begin(), tids.end(), r["prev_tid"].get<long>()) &&
            r["prev_tid"] != child.pid()) {
            EXPECT_EQ(names.count(r["prev_comm"]), 1u) << r.dump();
            replaced_by_sibling = true;
        }
    }
    EXPECT_EQ(waited.size(), static_cast<std::size_t>(spinners)) << "every spinner must wait";
    EXPECT_TRUE(replaced_by_sibling) << "some wait must be for a sibling spinner";
    EXPECT_TRUE(named) << "a spinner's wait after it named itself carries its name";
}

// -t: only that thread, chosen once the child's threads exist.
TEST(Runqslower, ThreadFilterKeepsOneThread) {
    Child child([] { busy_threads(spinners, 1500ms); });
    child.go();
    std::vector<long> tids;
    for (int i = 0; i < 200 && tids.size() < spinners + 1u; i++) {
        std::this_thread::sleep_for(5ms);
        tids = threads_of(child.pid());
    }
    ASSERT_EQ(tids.size(), spinners + 1u);
    const long target = tids.back(); // a spinner, not the main thread
    ASSERT_NE(target, child.pid());
    ToolRun run = run_around(
        {"runqslower", "--json", "-t", std::to_string(target), std::to_string(threshold_us)},
        [&] { EXPECT_TRUE(child.wait_done()); });
    const std::vector<json> records = event_records(run);
    ASSERT_FALSE(records.empty()) << run.err;
    for (const auto& r : records) {
        EXPECT_EQ(r["tid"], target) << r.dump();
        EXPECT_EQ(r["pid"], child.pid()) << r.dump();
        EXPECT_GT(r["latency_us"].get<long>(), threshold_us);
    }
}

// Text: libbpf-tools' header and columns, with -P the previous task's columns too.
TEST(Runqslower, TextOutputHasLibbpfToolsColumns) {
    Child child([] { busy_threads(spinners, 400ms); });
    Subprocess tool({coretrace_binary(), "runqslower", "-P", "-p", std::to_string(child.pid()),
                     std::to_string(threshold_us)});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    ASSERT_TRUE(child.wait_done());
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(), 0) << tool.err();

    std::istringstream out(tool.out());
    std::string line;
    std::getline(out, line);
    EXPECT_EQ(line, "Tracing run queue latency higher than 1000 us... Hit Ctrl-C to end.");
    std::getline(out, line);
    EXPECT_EQ(line, "TIME     COMM             TID           LAT(us) PREV COMM        PREV TID");
    // "%-8s %-16s %-6d %14llu %-16s %-6d"
    const std::regex row(R"(\d\d:\d\d:\d\d (\S.{15}) (\d+) *  *(\d+) (.{16}) (\d+) *)");
    int rows = 0;
    while (std::getline(out, line)) {
        std::smatch m;
        ASSERT_TRUE(std::regex_match(line, m, row)) << "'" << line << "'";
        EXPECT_EQ(line.size(), 8u + 1 + 16 + 1 + 6 + 1 + 14 + 1 + 16 + 1 + 6) << line;
        EXPECT_GT(std::stol(m[3]), threshold_us);
        rows++;
    }
    EXPECT_GT(rows, 0) << tool.out();
    EXPECT_NE(tool.err().find("0 events lost"), std::string::npos);
}

TEST(Runqslower, BadInputIsOneLineAndNothingLoads) {
    EXPECT_EQ(expect_refused({"runqslower", "-p", "999999"}, 1),
              "runqslower: no process with PID 999999\n");
    EXPECT_EQ(expect_refused({"runqslower", "-t", "999999"}, 1),
              "runqslower: no thread with TID 999999\n");
    EXPECT_THAT(expect_refused({"runqslower", "0"}, 2), StartsWith("runqslower: min_us: "));
    EXPECT_THAT(expect_refused({"runqslower", "abc"}, 2), StartsWith("runqslower: min_us: "));
    expect_refused({"runqslower", "10", "20"}, 2);
}

// Whichever way it ends, none of its programs, maps or links remain.
TEST(Runqslower, NothingOfTheToolRemains) {
    for (int signo : {SIGINT, SIGTERM, SIGHUP}) {
        SCOPED_TRACE("signal " + std::to_string(signo));
        BpfObjects held = expect_cleanup({"runqslower", "--json", "-P"}, signo, 3);
        EXPECT_EQ(held.progs.size(), 3u); // one hook per event
        EXPECT_EQ(held.links.size(), 3u);
        EXPECT_GE(held.maps.size(), 2u); // start, the ring buffer, ...
    }
}
