// biosnoop on the real kernel: a child's known O_DIRECT writes and reads, each checked against
// where the file's blocks are on the disk (FIEMAP) and against /proc/diskstats.
#include "block_workload.hpp"
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <csignal>
#include <gtest/gtest.h>
#include <set>

using namespace coretrace::test;

namespace {

struct Traced {
    std::vector<nlohmann::json> records;
    nlohmann::json summary;
    DiskStats before, after;
    std::string err;
};

// Runs biosnoop --json with `args` while the child runs the workload of `file`.
Traced snoop_workload(const DirectFile& file, std::vector<std::string> args,
                      const std::string& disk) {
    Traced traced;
    Child child([&file] { file.run(); }, true);
    args.insert(args.begin(),
                {coretrace_binary(), "biosnoop", "--json", "-p", std::to_string(child.pid())});
    Subprocess tool(args);
    EXPECT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    traced.before = disk_stats(disk);
    child.go();
    EXPECT_TRUE(child.wait_done());
    EXPECT_EQ(child.reap(), 0) << "the O_DIRECT workload failed";
    traced.after = disk_stats(disk);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(), 0) << tool.err();
    traced.err = tool.err();
    for (auto& line : json_lines(tool.out())) {
        if (line.value("type", "") == "summary")
            traced.summary = line;
        else
            traced.records.push_back(line);
    }
    return traced;
}

} // namespace

// Every data request of the child is reported once, with its process, disk, direction, size
// and sector right: 8 writes of 16 KiB and 12 reads of 8 KiB at the sectors FIEMAP gives;
// anything else of the child's is its fsync's metadata write or cache flush.
TEST(Biosnoop, ReportsEachDirectIoOfTheChildExactly) {
    const std::string disk = var_tmp_disk();
    if (disk.empty())
        GTEST_SKIP() << "/var/tmp is not on a whole disk";
    DirectFile file;
    Traced traced = snoop_workload(file, {"-Q", "-d", disk}, disk);

    std::multiset<long long> write_sectors, read_sectors;
    std::set<long long> expected_writes, expected_reads;
    for (std::size_t i = 0; i < DirectFile::writes; i++)
        expected_writes.insert(file.sector_of(DirectFile::write_offset(i)));
    for (std::size_t i = 0; i < DirectFile::reads; i++)
        expected_reads.insert(file.sector_of(DirectFile::read_offset(i)));
    ASSERT_EQ(expected_writes.count(-1), 0u) << "FIEMAP failed";

    std::set<long long> file_sectors = expected_writes;
    file_sectors.insert(expected_reads.begin(), expected_reads.end());
    for (const auto& r : traced.records) {
        EXPECT_EQ(r["disk"], disk) << r.dump();
        EXPECT_EQ(r["error"], 0) << r.dump();
        EXPECT_GT(r["lat_ns"].get<long long>(), 0) << r.dump();
        if (!file_sectors.count(r["sector"].get<long long>())) {
            // Not the file's data: the fsync's cache flush (no data) or the file system's
            // metadata write for the inode, both sent by the child itself.
            const std::string flags = r["flags"];
            EXPECT_TRUE(r["bytes"] == 0 || flags.find("Metadata") != std::string::npos)
                << "an unexpected request of the child: " << r.dump();
            continue;
        }
        if (r["op"] == "write") {
            EXPECT_EQ(r["bytes"], DirectFile::write_size) << r.dump();
            EXPECT_EQ(r["rwbs"].get<std::string>().substr(0, 1), "W") << r.dump();
            write_sectors.insert(r["sector"].get<long long>());
        } else {
            EXPECT_EQ(r["op"], "read") << r.dump();
            EXPECT_EQ(r["bytes"], DirectFile::read_size) << r.dump();
            EXPECT_EQ(r["rwbs"].get<std::string>().substr(0, 1), "R") << r.dump();
            read_sectors.insert(r["sector"].get<long long>());
        }
        EXPECT_TRUE(r["queued_ns"].is_number()) << "-Q: every request was seen queued";
    }
    EXPECT_EQ(write_sectors,
              std::multiset<long long>(expected_writes.begin(), expected_writes.end()));
    EXPECT_EQ(read_sectors, std::multiset<long long>(expected_reads.begin(), expected_reads.end()));
    EXPECT_EQ(traced.summary["lost"], 0);

    // The disk itself completed at least the child's requests and sectors meanwhile.
    EXPECT_GE(traced.after.writes - traced.before.writes, DirectFile::writes);
    EXPECT_GE(traced.after.write_sectors - traced.before.write_sectors,
              DirectFile::writes * DirectFile::write_size / 512);
    EXPECT_GE(traced.after.reads - traced.before.reads, DirectFile::reads);
    EXPECT_GE(traced.after.read_sectors - traced.before.read_sectors,
              DirectFile::reads * DirectFile::read_size / 512);
}

// -p, -m and -d filter in the kernel: a latency floor no request reaches, or another process,
// leaves nothing.
TEST(Biosnoop, FiltersLeaveNothingOfTheChild) {
    const std::string disk = var_tmp_disk();
    if (disk.empty())
        GTEST_SKIP() << "/var/tmp is not on a whole disk";
    DirectFile file;
    Traced slow = snoop_workload(file, {"-m", "60000"}, disk);
    EXPECT_TRUE(slow.records.empty()) << slow.records.size() << " records slower than a minute";
    EXPECT_EQ(slow.summary["events"], 0);
}

TEST(Biosnoop, TextOutputHasLibbpfToolsColumns) {
    const std::string disk = var_tmp_disk();
    if (disk.empty())
        GTEST_SKIP() << "/var/tmp is not on a whole disk";
    DirectFile file;
    Child child([&file] { file.run(); }, true);
    Subprocess tool({coretrace_binary(), "biosnoop", "-Q", "-p", std::to_string(child.pid())});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    ASSERT_TRUE(tool.wait_for("LAT(ms)")) << tool.out();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 4u);
    child.go();
    ASSERT_TRUE(child.wait_done());
    ASSERT_EQ(child.reap(), 0);
    ASSERT_TRUE(tool.wait_for(" 8192 ")) << tool.out(); // a read
    tool.signal(SIGTERM);
    EXPECT_EQ(tool.wait(), 0) << tool.err();
    EXPECT_NE(tool.out().find("TIME(s)     COMM           PID     DISK    T    SECTOR     BYTES   "
                              "QUE(ms) LAT(ms)"),
              std::string::npos)
        << tool.out();
    EXPECT_NE(tool.out().find(" " + disk + " "), std::string::npos) << tool.out();
    EXPECT_NE(tool.out().find(" 16384 "), std::string::npos) << tool.out();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}

TEST(Biosnoop, BadInputIsOneLineBeforeLoading) {
    auto missing = run({coretrace_binary(), "biosnoop", "-d", "nosuchdisk0"});
    EXPECT_EQ(missing.code, 1);
    EXPECT_EQ(missing.err, "biosnoop: no disk named 'nosuchdisk0' in /proc/partitions\n");
    auto pid = run({coretrace_binary(), "biosnoop", "-p", "999999999"});
    EXPECT_NE(pid.code, 0);
    EXPECT_EQ(std::count(pid.err.begin(), pid.err.end(), '\n'), 1) << pid.err;
}
