// biotop on the real kernel: a child's known O_DIRECT writes and reads, summed per direction.
#include "block_workload.hpp"
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <csignal>
#include <gtest/gtest.h>

using namespace coretrace::test;

// -p keeps only the child: its rows hold exactly its 12 reads of 8 KiB, and its 8 writes of
// 16 KiB, plus the few small writes its fsync sends (inode metadata, an empty flush), on the
// disk of /var/tmp.
TEST(Biotop, ChildsRowsHoldItsRequestsAndBytes) {
    const std::string disk = var_tmp_disk();
    if (disk.empty())
        GTEST_SKIP() << "/var/tmp is not on a whole disk";
    DirectFile file;
    Child child([&file] { file.run(); }, true);
    Subprocess tool({coretrace_binary(), "biotop", "--json", "-p", std::to_string(child.pid())});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    child.go();
    ASSERT_TRUE(child.wait_done());
    ASSERT_EQ(child.reap(), 0) << "the O_DIRECT workload failed";
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());

    long reads = 0, read_bytes = 0, writes = 0, write_bytes = 0;
    for (const auto& line : json_lines(tool.out()))
        for (const auto& row : line["rows"]) {
            EXPECT_EQ(row["pid"], child.pid()) << row.dump();
            EXPECT_EQ(row["disk"], disk) << row.dump();
            if (row["direction"] == "read") {
                reads += row["io"].get<long>();
                read_bytes += row["bytes"].get<long>();
            } else {
                writes += row["io"].get<long>();
                write_bytes += row["bytes"].get<long>();
            }
        }
    EXPECT_EQ(read_bytes, static_cast<long>(DirectFile::reads * DirectFile::read_size));
    EXPECT_GE(reads, static_cast<long>(DirectFile::reads));
    EXPECT_LE(reads, static_cast<long>(DirectFile::reads) + 1); // + a flush request, if any
    // The fsync may add the inode's metadata write (4 KiB) and an empty preflush write.
    EXPECT_GE(writes, static_cast<long>(DirectFile::writes));
    EXPECT_LE(writes, static_cast<long>(DirectFile::writes) + 3);
    const long data = static_cast<long>(DirectFile::writes * DirectFile::write_size);
    EXPECT_GE(write_bytes, data);
    EXPECT_LE(write_bytes - data, (writes - static_cast<long>(DirectFile::writes)) * 4096);
}

TEST(Biotop, TextHeaderIsLibbpfTools) {
    Subprocess tool({coretrace_binary(), "biotop", "-C", "1", "1"});
    ASSERT_EQ(tool.wait(std::chrono::seconds(10)), 0) << tool.err();
    EXPECT_NE(tool.out().find(" loadavg: "), std::string::npos) << tool.out();
    EXPECT_NE(tool.out().find("PID     COMM             D MAJ MIN DISK       I/O  Kbytes  AVGms\n"),
              std::string::npos)
        << tool.out();
    EXPECT_EQ(tool.out().find("\033[2J"), std::string::npos) << "-C must not clear the screen";
}

TEST(Biotop, BadInputIsOneLine) {
    auto sort = run({coretrace_binary(), "biotop", "-s", "nonsense"});
    EXPECT_EQ(sort.code, 2);
    auto pid = run({coretrace_binary(), "biotop", "-p", "999999999"});
    EXPECT_EQ(pid.code, 1);
    EXPECT_EQ(std::count(pid.err.begin(), pid.err.end(), '\n'), 1) << pid.err;
}
