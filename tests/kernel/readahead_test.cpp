// readahead on the real kernel: a child reads sequentially a file dropped from the page cache
// (that file only); readahead -p CHILD must count readahead pages, most of them used.
#include "bpf_objects.hpp"
#include "filesb_files.hpp"

#include <algorithm>
#include <gtest/gtest.h>

using namespace coretrace::test;
using nlohmann::json;

TEST(Readahead, SequentialReadOfAnUncachedFile) {
    FsTestDir dir("readahead");
    const std::string path = dir.path("data");
    constexpr std::size_t bytes = 4 << 20;
    ASSERT_TRUE(write_uncached(path, bytes));
    Child child([&] { _exit(read_all(path, 1 << 16) == bytes ? 0 : 3); }, true);
    ToolRun run = run_around({"readahead", "--json", "-p", std::to_string(child.pid())}, {&child});
    ASSERT_EQ(run.code, 0) << run.err;
    ASSERT_EQ(run.lines.size(), 1u) << run.err;
    const json& r = run.lines[0];
    const auto total = r["total"].get<std::uint64_t>();
    const auto used = r["used"].get<std::uint64_t>();
    EXPECT_GT(total, 0u);
    EXPECT_LE(total, bytes / 4096); // readahead stops at the end of the file
    EXPECT_EQ(r["unused"].get<std::uint64_t>() + used, total);
    EXPECT_EQ(r["not_followed"], 0);
    // The child read every page: every page read ahead was used.
    EXPECT_EQ(used, total);
    std::uint64_t in_buckets = 0;
    for (const auto& bucket : r["buckets"])
        in_buckets += bucket["count"].get<std::uint64_t>();
    EXPECT_EQ(in_buckets, used);
}

TEST(Readahead, TextOutputAndDuration) {
    auto result = run({coretrace_binary(), "readahead", "-d", "1", "-m"}, 20s);
    ASSERT_EQ(result.code, 0) << result.err;
    EXPECT_NE(result.out.find("Tracing fs read-ahead ... Hit Ctrl-C to end.\n"), std::string::npos);
    EXPECT_NE(result.out.find("Readahead unused/total pages: "), std::string::npos) << result.out;
}

TEST(Readahead, BadInputIsOneLine) {
    auto missing_pid = run({coretrace_binary(), "readahead", "-p", "999999"});
    EXPECT_EQ(missing_pid.code, 1);
    EXPECT_EQ(std::count(missing_pid.err.begin(), missing_pid.err.end(), '\n'), 1);
    auto bad_duration = run({coretrace_binary(), "readahead", "-d", "0"});
    EXPECT_EQ(bad_duration.code, 2);
    EXPECT_EQ(std::count(bad_duration.err.begin(), bad_duration.err.end(), '\n'), 1);
}

TEST(Readahead, NothingRemainsAfterExit) {
    Subprocess tool({coretrace_binary(), "readahead"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 7u);
    EXPECT_GE(held.links.size(), 7u);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}
