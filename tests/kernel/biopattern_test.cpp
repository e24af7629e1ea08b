// biopattern on the real kernel: a child's O_DIRECT writes and reads over contiguous blocks of
// a file, as requests on the disk /proc/diskstats also counts.
#include "block_workload.hpp"
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <csignal>
#include <gtest/gtest.h>

using namespace coretrace::test;

// The child's 20 data requests (8 x 16 KiB, 12 x 8 KiB, each starting where the one before ended
// on the disk) are all counted with their bytes; most follow one another, so the disk shows
// sequential requests, unless another process's request came between every pair of them.
TEST(Biopattern, CountsTheChildsRequestsAndSequentialRuns) {
    const std::string disk = var_tmp_disk();
    if (disk.empty())
        GTEST_SKIP() << "/var/tmp is not on a whole disk";
    DirectFile file;
    Child child([&file] { file.run(); }, true);
    Subprocess tool({coretrace_binary(), "biopattern", "--json", "-d", disk});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    DiskStats before = disk_stats(disk);
    child.go();
    ASSERT_TRUE(child.wait_done());
    ASSERT_EQ(child.reap(), 0) << "the O_DIRECT workload failed";
    DiskStats after = disk_stats(disk);
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());

    auto lines = json_lines(tool.out());
    ASSERT_EQ(lines.size(), 1u) << tool.out();
    ASSERT_EQ(lines[0]["disks"].size(), 1u) << "-d let another disk through: " << tool.out();
    const auto& row = lines[0]["disks"][0];
    EXPECT_EQ(row["disk"], disk);
    const long count = row["count"];
    EXPECT_EQ(count, row["random"].get<long>() + row["sequential"].get<long>());
    EXPECT_GE(count, static_cast<long>(DirectFile::reads + DirectFile::writes));
    EXPECT_GE(row["bytes"].get<long>(),
              static_cast<long>(DirectFile::writes * DirectFile::write_size +
                                DirectFile::reads * DirectFile::read_size));
    EXPECT_GT(row["sequential"].get<long>(), 0) << row.dump();
    EXPECT_GE(after.reads - before.reads, DirectFile::reads);
}

TEST(Biopattern, TextHeaderIsLibbpfTools) {
    Subprocess tool({coretrace_binary(), "biopattern", "-T", "1", "1"});
    ASSERT_EQ(tool.wait(std::chrono::seconds(10)), 0) << tool.err();
    EXPECT_NE(tool.out().find("TIME     DISK     %RND  %SEQ    COUNT     KBYTES\n"),
              std::string::npos)
        << tool.out();
}
