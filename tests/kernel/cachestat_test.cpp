// cachestat on the real kernel: a file written and then dropped from the page cache (for that
// file only) is read by a child: cachestat -p CHILD counts at least its pages as misses; a second
// child reading it again gets hits for them; a child writing a new file dirties its pages.
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

namespace {

constexpr std::size_t file_bytes = 4 << 20;
constexpr std::uint64_t file_pages = file_bytes / 4096;

struct Sums {
    std::uint64_t hits = 0, misses = 0, dirties = 0, accesses = 0;
};

// Runs cachestat with one long interval (the SIGINT ends it with one report) around `child`.
Sums cachestat_around(Child& child) {
    ToolRun run = run_around({"cachestat", "--json", "-p", std::to_string(child.pid()), "3600"},
                             let_run({&child}));
    EXPECT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(run.lines.size(), 1u) << run.err;
    Sums sums;
    for (const auto& line : run.lines) {
        sums.hits += line["hits"].get<std::uint64_t>();
        sums.misses += line["misses"].get<std::uint64_t>();
        sums.dirties += line["dirties"].get<std::uint64_t>();
        sums.accesses += line["accesses"].get<std::uint64_t>();
        EXPECT_GT(line["cached_mb"].get<std::uint64_t>(), 0u);
        double ratio = line["hit_ratio"];
        EXPECT_GE(ratio, 0.0);
        EXPECT_LE(ratio, 1.0);
    }
    return sums;
}

} // namespace

TEST(Cachestat, UncachedReadMissesThenCachedReadHits) {
    ScratchDir dir("cachestat", "/var/tmp");
    const std::string path = dir / "data";
    ASSERT_TRUE(write_uncached(path, file_bytes));

    Child cold([&] { _exit(read_all(path) == file_bytes ? 0 : 3); }, true);
    Sums first = cachestat_around(cold);
    EXPECT_GE(first.misses, file_pages);
    EXPECT_EQ(first.accesses, file_pages); // each page asked for once, clamped to the file size
    EXPECT_EQ(first.dirties, 0u);

    Child warm([&] { _exit(read_all(path) == file_bytes ? 0 : 3); }, true);
    Sums second = cachestat_around(warm);
    EXPECT_EQ(second.accesses, file_pages);
    EXPECT_EQ(second.hits, file_pages);
    EXPECT_EQ(second.misses, 0u);
}

TEST(Cachestat, WritesDirtyPages) {
    ScratchDir dir("cachestat", "/var/tmp");
    const std::string path = dir / "written";
    constexpr std::size_t pages = 16;
    Child writer(
        [&] {
            std::vector<char> block(pages * 4096, 'z');
            int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
            _exit(fd >= 0 && ::write(fd, block.data(), block.size()) ==
                                 static_cast<ssize_t>(block.size())
                      ? 0
                      : 3);
        },
        true);
    Sums sums = cachestat_around(writer);
    EXPECT_GE(sums.dirties, 1u);
    EXPECT_LE(sums.dirties, pages);
    EXPECT_EQ(sums.misses, 0u); // pages added by a write are not read misses
}

TEST(Cachestat, TextColumnsAndCount) {
    auto result = run({coretrace_binary(), "cachestat", "-T", "1", "2"}, 20s);
    ASSERT_EQ(result.code, 0) << result.err;
    EXPECT_NE(
        result.out.find("TIME         HITS   MISSES  DIRTIES HITRATIO   BUFFERS_MB  CACHED_MB\n"),
        std::string::npos)
        << result.out;
    EXPECT_EQ(std::count(result.out.begin(), result.out.end(), '%'), 2) << result.out;
}

TEST(Cachestat, BadInputIsOneLine) {
    expect_refused({"cachestat", "-p", "999999"}, 1);
    expect_refused({"cachestat", "1", "x"}, 2);
}

TEST(Cachestat, NothingRemainsAfterExit) {
    expect_cleanup({"cachestat"}, SIGINT, 4);
}
