// bitesize on the real kernel: a child with a name of its own does known O_DIRECT writes and
// reads; its histogram must hold exactly those requests and bytes.
#include "block_workload.hpp"
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <csignal>
#include <gtest/gtest.h>

using namespace coretrace::test;

namespace {

long bucket(const nlohmann::json& hist, long min_kbytes) {
    for (const auto& b : hist["buckets"])
        if (b["min_kbytes"] == min_kbytes)
            return b["count"];
    return 0;
}

} // namespace

// The child (named ct-bsz-<pid>) issues 8 requests of 16 KiB (slot 16 -> 31) and 12 of 8 KiB
// (slot 8 -> 15): -c keeps only it, and its histogram counts exactly those, plus the small
// requests of its fsync.
TEST(Bitesize, CountsTheChildsRequestsBySize) {
    const std::string disk = var_tmp_disk();
    if (disk.empty())
        GTEST_SKIP() << "/var/tmp is not on a whole disk";
    DirectFile file;
    const std::string comm = "ct-bsz-" + std::to_string(::getpid() % 100000);
    Child child([&] { file.run(comm.c_str()); }, true);
    Subprocess tool({coretrace_binary(), "bitesize", "--json", "-c", comm, "-d", disk});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    child.go();
    ASSERT_TRUE(child.wait_done());
    ASSERT_EQ(child.reap(), 0) << "the O_DIRECT workload failed";
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());

    auto lines = json_lines(tool.out());
    ASSERT_EQ(lines.size(), 1u) << tool.out();
    ASSERT_EQ(lines[0]["histograms"].size(), 1u) << "-c let another name through: " << tool.out();
    const auto& hist = lines[0]["histograms"][0];
    EXPECT_EQ(hist["comm"], comm);
    // Besides its data, the child's fsync sends a few requests below 8 KiB: the inode's metadata
    // write (4 KiB) and a cache flush (0 bytes, if the disk has a cache).
    EXPECT_EQ(bucket(hist, 16), static_cast<long>(DirectFile::writes)) << hist.dump();
    EXPECT_EQ(bucket(hist, 8), static_cast<long>(DirectFile::reads)) << hist.dump();
    const long others =
        hist["count"].get<long>() - static_cast<long>(DirectFile::writes + DirectFile::reads);
    EXPECT_GE(others, 0);
    EXPECT_LE(others, 3) << hist.dump();
    const long data = static_cast<long>(DirectFile::writes * DirectFile::write_size +
                                        DirectFile::reads * DirectFile::read_size);
    EXPECT_GE(hist["bytes"].get<long>(), data);
    EXPECT_LT(hist["bytes"].get<long>() - data, (others + 1) * 8192) << hist.dump();
}

TEST(Bitesize, TextOutputIsLibbpfToolsLayout) {
    const std::string disk = var_tmp_disk();
    if (disk.empty())
        GTEST_SKIP() << "/var/tmp is not on a whole disk";
    DirectFile file;
    const std::string comm = "ct-bszt-" + std::to_string(::getpid() % 100000);
    Child child([&] { file.run(comm.c_str()); }, true);
    Subprocess tool({coretrace_binary(), "bitesize", "-c", comm});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    ASSERT_TRUE(child.wait_done());
    ASSERT_EQ(child.reap(), 0);
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(), 0) << tool.err();
    EXPECT_NE(tool.out().find("\nProcess Name = " + comm + "\n"), std::string::npos) << tool.out();
    EXPECT_NE(tool.out().find("     Kbytes              : count    distribution"),
              std::string::npos)
        << tool.out();
    EXPECT_NE(tool.out().find("        16 -> 31         : 8 "), std::string::npos) << tool.out();
}

TEST(Bitesize, BadInputIsOneLine) {
    auto missing = run({coretrace_binary(), "bitesize", "-d", "nosuchdisk0"});
    EXPECT_EQ(missing.code, 1);
    EXPECT_EQ(missing.err, "bitesize: no disk named 'nosuchdisk0' in /proc/partitions\n");
    auto name = run({coretrace_binary(), "bitesize", "-c", "a-name-longer-than-15"});
    EXPECT_EQ(name.code, 2);
}
