// fsdist on the real kernel: a child makes a known number of each operation on an ext4 file (and
// some on tmpfs); the histograms of fsdist -t ext4 -p CHILD must hold exactly that many.
#include "bpf_objects.hpp"
#include "filesb_files.hpp"

#include <algorithm>
#include <gtest/gtest.h>
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
    FsTestDir dir("fsdist");
    if (dir.fs_type() != "ext4")
        GTEST_SKIP() << "/var/tmp is not on ext4 here";
    const std::string path = dir.path("ops");
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
    ToolRun run =
        run_around({"fsdist", "--json", "-t", "ext4", "-p", std::to_string(child.pid())}, {&child});
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
    FsTestDir dir("fsdist");
    const std::string path = dir.path("text");
    Child child(
        [&] {
            int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
            (void)!::write(fd, "abc", 3);
            ::close(fd);
        },
        true);
    Subprocess tool({coretrace_binary(), "fsdist", "-t", "ext4", "-m", "-T", "-p",
                     std::to_string(child.pid())});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    ASSERT_EQ(child.reap(), 0);
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(20s), 0) << tool.err();
    const std::string& out = tool.out();
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
    auto missing_pid = run({coretrace_binary(), "fsdist", "-t", "ext4", "-p", "999999"});
    EXPECT_EQ(missing_pid.code, 1);
    EXPECT_EQ(std::count(missing_pid.err.begin(), missing_pid.err.end(), '\n'), 1);
    auto bad_fs = run({coretrace_binary(), "fsdist", "-t", "ext9"});
    EXPECT_EQ(bad_fs.code, 1);
    EXPECT_EQ(bad_fs.err, "fsdist: unknown file system type 'ext9' (see /proc/filesystems)\n");
    auto bad_interval = run({coretrace_binary(), "fsdist", "-t", "ext4", "0"});
    EXPECT_EQ(bad_interval.code, 2);
    EXPECT_EQ(std::count(bad_interval.err.begin(), bad_interval.err.end(), '\n'), 1);
}

TEST(Fsdist, NothingRemainsAfterExit) {
    Subprocess tool({coretrace_binary(), "fsdist", "-t", "ext4"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 2u);
    EXPECT_GE(held.maps.size(), 2u);
    EXPECT_GE(held.links.size(), 2u);
    tool.signal(SIGTERM);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}
