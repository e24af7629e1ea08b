// fsdist on the real kernel: a child makes a known number of each operation on an ext4 file (and
// some on tmpfs); the histograms of fsdist -t ext4 -p CHILD must hold exactly that many.
#include "scratch_dir.hpp"
#include "tool_run.hpp"

#include <algorithm>
#include <csignal>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <map>
#include <sys/stat.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

// Operation -> total count over every JSON report of a run.
std::map<std::string, std::uint64_t> totals(const std::vector<json>& lines) {
    std::map<std::string, std::uint64_t> counts;
    for (const auto& line : lines) {
        for (const auto& op : line["operations"]) {
            std::uint64_t in_buckets = 0;
            for (const auto& bucket : op["buckets"])
                in_buckets += bucket["count"].get<std::uint64_t>();
            EXPECT_EQ(in_buckets, op["count"].get<std::uint64_t>()) << op;
            counts[op["operation"]] += op["count"].get<std::uint64_t>();
        }
    }
    return counts;
}

} // namespace

TEST(Fsdist, HistogramTotalsAreTheChildsOperations) {
    ScratchDir dir("fsdist", "/var/tmp");
    if (filesystem_type(dir.path()) != "ext4")
        GTEST_SKIP() << "/var/tmp is not on ext4 here";
    const std::string path = dir / "ops";
    const std::string shm = "/dev/shm/coretrace-fsdist-" + std::to_string(::getpid());
    constexpr int opens = 3, writes = 7, reads = 5, syncs = 2, stats = 4;

    Child child(
        [&] {
            char block[512] = {};
            struct stat st {};
            int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
            for (int i = 0; i < writes; i++)
                (void)!::write(fd, block, sizeof(block));
            for (int i = 0; i < syncs; i++)
                ::fdatasync(fd);
            for (int i = 0; i < reads; i++)
                (void)!::pread(fd, block, sizeof(block), 512 * i);
            for (int i = 0; i < stats; i++)
                ::fstat(fd, &st);
            ::close(fd);
            for (int i = 1; i < opens; i++)
                ::close(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
            // tmpfs: none of these may count.
            fd = ::open(shm.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0644);
            (void)!::write(fd, block, sizeof(block));
            ::fstat(fd, &st);
            ::fsync(fd);
            ::close(fd);
        },
        /*exit_after=*/true);
    ToolRun run = run_around({"fsdist", "--json", "-t", "ext4", "-p", std::to_string(child.pid())},
                             let_run({&child}));
    ::unlink(shm.c_str());
    ASSERT_EQ(run.code, 0) << run.err;
    ASSERT_FALSE(run.lines.empty()) << run.err;
    for (const auto& line : run.lines) {
        EXPECT_EQ(line["fs"], "ext4");
        EXPECT_EQ(line["unit"], "usecs");
    }
    auto counts = totals(run.lines);
    EXPECT_EQ(counts["open"], opens);
    EXPECT_EQ(counts["write"], writes);
    EXPECT_EQ(counts["read"], reads);
    EXPECT_EQ(counts["fsync"], syncs);
    EXPECT_EQ(counts["getattr"], stats);
    EXPECT_EQ(counts.size(), 5u);
}

TEST(Fsdist, TextHistogramsPerOperation) {
    ScratchDir dir("fsdist", "/var/tmp");
    const std::string path = dir / "text";
    Child child(
        [&] {
            int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
            (void)!::write(fd, "abc", 3);
            ::close(fd);
        },
        true);
    ToolRun run = run_around(
        {"fsdist", "-t", "ext4", "-m", "-T", "-p", std::to_string(child.pid())}, let_run({&child}));
    ASSERT_EQ(run.code, 0) << run.err;
    const std::string& out = run.out;
    EXPECT_NE(out.find("Tracing ext4 operation latency... Hit Ctrl-C to end."), std::string::npos);
    EXPECT_NE(out.find("operation = 'write'\n     msecs               : count    distribution\n"
                       "         0 -> 1          : 1        |"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("operation = 'open'\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("operation = 'read'"), std::string::npos) << out;
}

TEST(Fsdist, IntervalAndCountEndTheRun) {
    auto result = run({coretrace_binary(), "fsdist", "-t", "ext4", "--json", "1", "2"}, 20s);
    EXPECT_EQ(result.code, 0) << result.err;
    EXPECT_EQ(json_lines(result.out).size(), 2u);
}

TEST(Fsdist, BadInputIsOneLine) {
    expect_refused({"fsdist", "-t", "ext4", "-p", "999999"}, 1);
    EXPECT_EQ(expect_refused({"fsdist", "-t", "ext9"}, 1),
              "fsdist: unknown file system type 'ext9' (see /proc/filesystems)\n");
    expect_refused({"fsdist", "-t", "ext4", "0"}, 2);
}

TEST(Fsdist, NothingRemainsAfterExit) {
    BpfObjects held = expect_cleanup({"fsdist", "-t", "ext4"}, SIGTERM, 2);
    EXPECT_GE(held.maps.size(), 2u);
}
