// biostacks on the real kernel: a child's known O_DIRECT requests land in histograms of its own,
// with the kernel stack where they began.
#include "block_workload.hpp"
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <csignal>
#include <gtest/gtest.h>

using namespace coretrace::test;

// The child's 20 data requests (and the few small ones of its fsync) are all timed under its
// PID and the disk, with a kernel stack that shows the block layer.
TEST(Biostacks, ChildsRequestsCarryItsPidAndAStack) {
    const std::string disk = var_tmp_disk();
    if (disk.empty())
        GTEST_SKIP() << "/var/tmp is not on a whole disk";
    DirectFile file;
    Child child([&file] { file.run(); }, true);
    Subprocess tool({coretrace_binary(), "biostacks", "--json", "-d", disk});
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
    long mine = 0;
    bool block_layer_frame = false;
    for (const auto& h : lines[0]["histograms"]) {
        EXPECT_EQ(h["disk"], disk) << h.dump();
        if (h["pid"] != child.pid())
            continue;
        mine += h["count"].get<long>();
        for (const auto& frame : h["stack"]) {
            const std::string f = frame;
            block_layer_frame = block_layer_frame || f.find("blk_") != std::string::npos ||
                                f.find("submit_bio") != std::string::npos;
        }
    }
    EXPECT_GE(mine, static_cast<long>(DirectFile::reads + DirectFile::writes)) << tool.out();
    EXPECT_LE(mine, static_cast<long>(DirectFile::reads + DirectFile::writes) + 3);
    EXPECT_TRUE(block_layer_frame) << tool.out();
}

TEST(Biostacks, DurationEndsTheRun) {
    Subprocess tool({coretrace_binary(), "biostacks", "-m", "1"});
    EXPECT_EQ(tool.wait(std::chrono::seconds(10)), 0) << tool.err();
    EXPECT_NE(tool.out().find("Hit Ctrl-C"), std::string::npos);
}
