// readahead on the real kernel: a child reads sequentially a file dropped from the page cache
// (that file only); readahead -p CHILD must count readahead pages, most of them used.
#include "file_io.hpp"
#include "scratch_dir.hpp"
#include "tool_run.hpp"

#include <algorithm>
#include <csignal>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

TEST(Readahead, SequentialReadOfAnUncachedFile) {
    ScratchDir dir("readahead", "/var/tmp");
    const std::string path = dir / "data";
    constexpr std::size_t bytes = 4 << 20;
    ASSERT_TRUE(write_uncached(path, bytes));
    Child child([&] { _exit(read_all(path, 1 << 16) == bytes ? 0 : 3); }, true);
    ToolRun run =
        run_around({"readahead", "--json", "-p", std::to_string(child.pid())}, let_run({&child}));
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
    expect_refused({"readahead", "-p", "999999"}, 1);
    expect_refused({"readahead", "-d", "0"}, 2);
}

TEST(Readahead, NothingRemainsAfterExit) {
    expect_cleanup({"readahead"}, SIGINT, 7);
}
