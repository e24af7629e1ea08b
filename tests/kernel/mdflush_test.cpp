// mdflush on the real kernel. This machine has no md driver (no /proc/mdstat), so md flushes
// cannot be made; what is checked: the flush the child queues to the root disk (ext4's fsync of
// a file just written sends REQ_PREFLUSH bios from the caller) is reported under --all-disks
// with the child's PID and the disk's name, and is not reported without it (the disk is not md).
#include "block_workload.hpp"
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <csignal>
#include <gtest/gtest.h>

using namespace coretrace::test;

namespace {

std::vector<nlohmann::json> flushes_of_child(bool all_disks, BpfObjects* held = nullptr) {
    const std::string path = "/var/tmp/coretrace-mdflush-" + std::to_string(::getpid());
    Child child(
        [&path] {
            int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
            if (fd < 0 || ::write(fd, "data", 4) != 4 || ::fsync(fd) != 0)
                std::_Exit(3);
            ::close(fd);
            ::unlink(path.c_str());
        },
        true);
    std::vector<std::string> args = {coretrace_binary(), "mdflush", "--json"};
    if (all_disks)
        args.push_back("--all-disks");
    Subprocess tool(args);
    EXPECT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    if (held)
        *held = held_by(tool.pid());
    child.go();
    EXPECT_TRUE(child.wait_done());
    EXPECT_EQ(child.reap(), 0) << "write and fsync of " << path << " failed";
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(), 0) << tool.err();
    std::vector<nlohmann::json> mine;
    for (auto& line : json_lines(tool.out())) {
        if (line.value("type", "") == "summary")
            EXPECT_EQ(line["lost"], 0);
        else if (line["pid"] == child.pid())
            mine.push_back(line);
    }
    return mine;
}

bool write_cache(const std::string& disk) {
    std::ifstream in("/sys/block/" + disk + "/queue/write_cache");
    std::string mode;
    std::getline(in, mode);
    return mode == "write back";
}

} // namespace

TEST(Mdflush, AllDisksShowsTheChildsFlush) {
    const std::string disk = var_tmp_disk();
    if (disk.empty() || !write_cache(disk))
        GTEST_SKIP() << "no whole disk with a write cache under /var/tmp: no flush to see";
    BpfObjects held;
    auto mine = flushes_of_child(true, &held);
    ASSERT_GE(mine.size(), 1u);
    for (const auto& f : mine)
        EXPECT_EQ(f["disk"], disk) << f.dump();
    EXPECT_GE(held.progs.size(), 1u);
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}

TEST(Mdflush, NonMdDiskFlushIsNotReported) {
    const std::string disk = var_tmp_disk();
    if (disk.empty() || disk.rfind("md", 0) == 0)
        GTEST_SKIP() << "/var/tmp is not on a plain, non-md disk";
    EXPECT_TRUE(flushes_of_child(false).empty());
}
