// fsslower on the real kernel: a child writes, fsyncs and reads a file on the root file system
// (ext4) and a file on tmpfs; fsslower -t ext4 -m 0 -p CHILD must report the ext4 calls, with the
// right operation letters, bytes, offsets and file name, and nothing of tmpfs or of other
// processes.
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

std::vector<json> with(const std::vector<json>& records, const std::string& op,
                       const std::string& file) {
    std::vector<json> found;
    for (const auto& r : records)
        if (r.contains("op") && r["op"] == op && r["file"] == file)
            found.push_back(r);
    return found;
}

} // namespace

TEST(Fsslower, ReportsAChildsExt4CallsWithOpBytesAndName) {
    ScratchDir dir("fsslower", "/var/tmp");
    if (filesystem_type(dir.path()) != "ext4")
        GTEST_SKIP() << "/var/tmp is not on ext4 here";
    const std::string name = "fsslower-data";
    const std::string path = dir / name;
    const std::string shm = "/dev/shm/coretrace-fsslower-" + std::to_string(::getpid());
    constexpr std::size_t bytes = 1 << 16;

    Child child(
        [&] {
            std::vector<char> block(bytes, 'y');
            int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
            if (fd < 0 || ::write(fd, block.data(), bytes) != bytes || ::fsync(fd) != 0)
                _exit(3);
            ::close(fd);
            fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0 || ::read(fd, block.data(), bytes) != bytes ||
                ::pread(fd, block.data(), 4096, 8192) != 4096)
                _exit(4);
            ::close(fd);
            fd = ::open(shm.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
            if (fd >= 0) {
                (void)!::write(fd, block.data(), 100);
                ::close(fd);
            }
        },
        /*exit_after=*/true);
    ToolRun run = run_around(
        {"fsslower", "--json", "-t", "ext4", "-m", "0", "-p", std::to_string(child.pid())},
        let_run({&child}));
    ::unlink(shm.c_str());
    ASSERT_EQ(run.code, 0) << run.err;
    const std::vector<json> records = event_records(run);
    ASSERT_FALSE(records.empty()) << run.err;

    for (const auto& r : records) {
        EXPECT_EQ(r["pid"], child.pid()) << r;
        EXPECT_EQ(r["fs"], "ext4");
        EXPECT_NE(r["file"], shm.substr(shm.rfind('/') + 1)) << "a tmpfs file was reported";
        EXPECT_GE(r["latency_ns"].get<std::uint64_t>(), 0u);
    }
    auto opens = with(records, "O", name);
    auto writes = with(records, "W", name);
    auto syncs = with(records, "F", name);
    auto reads = with(records, "R", name);
    EXPECT_EQ(opens.size(), 2u) << run.err;
    ASSERT_EQ(writes.size(), 1u) << run.err;
    EXPECT_EQ(writes[0]["bytes"], bytes);
    EXPECT_EQ(writes[0]["offset"], 0);
    EXPECT_EQ(writes[0]["operation"], "write");
    ASSERT_EQ(syncs.size(), 1u);
    EXPECT_TRUE(syncs[0]["bytes"].is_null()); // the whole file (LL_MAX in text)
    EXPECT_GT(syncs[0]["latency_ns"].get<std::uint64_t>(), 0u);
    ASSERT_EQ(reads.size(), 2u);
    EXPECT_EQ(reads[0]["bytes"], bytes);
    EXPECT_EQ(reads[0]["offset"], 0);
    EXPECT_EQ(reads[1]["bytes"], 4096); // the pread, at its own offset
    EXPECT_EQ(reads[1]["offset"], 8192);
    EXPECT_EQ(records.size(), 6u) << "only the six ext4 calls of the child";
}

// -m keeps only calls at least that slow: none of a child's 100-byte writes takes 10 s.
TEST(Fsslower, MinimumLatencyFilters) {
    ScratchDir dir("fsslower", "/var/tmp");
    const std::string path = dir / "fast";
    Child child(
        [&] {
            int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
            char data[100] = {};
            for (int i = 0; i < 20; i++)
                (void)!::write(fd, data, sizeof(data));
            ::close(fd);
        },
        true);
    const std::string type = filesystem_type(dir.path());
    ToolRun run = run_around({"fsslower", "--json", "-t", type.empty() ? "ext4" : type, "-m",
                              "10000", "-p", std::to_string(child.pid())},
                             let_run({&child}));
    ASSERT_EQ(run.code, 0) << run.err;
    ASSERT_EQ(run.lines.size(), 1u) << run.err; // the summary only
    EXPECT_EQ(run.lines[0]["events"], 0);
}

TEST(Fsslower, TextColumns) {
    ScratchDir dir("fsslower", "/var/tmp");
    const std::string path = dir / "text-columns";
    Child child(
        [&] {
            int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
            (void)!::write(fd, "hello", 5);
            ::fsync(fd);
            ::close(fd);
        },
        true);
    ToolRun run =
        run_around({"fsslower", "-t", "ext4", "-m", "0", "-p", std::to_string(child.pid())},
                   let_run({&child}));
    ASSERT_EQ(run.code, 0) << run.err;
    const std::string& out = run.out;
    EXPECT_NE(out.find("Tracing ext4 operations... Hit Ctrl-C to end."), std::string::npos) << out;
    EXPECT_NE(out.find("TIME     COMM             PID     T BYTES   OFF_KB   LAT(ms) FILENAME"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find(" W 5       0        "), std::string::npos) << out;
    EXPECT_NE(out.find(" F LL_MAX  0        "), std::string::npos) << out;
    EXPECT_NE(out.find(" text-columns\n"), std::string::npos) << out;
}

TEST(Fsslower, BadInputIsOneLine) {
    expect_refused({"fsslower", "-t", "ext4", "-p", "999999"}, 1);
    EXPECT_EQ(expect_refused({"fsslower", "-t", "nosuchfs"}, 1),
              "fsslower: unknown file system type 'nosuchfs' (see /proc/filesystems)\n");
    expect_refused({"fsslower"}, 2);
    expect_refused({"fsslower", "-t", "ext4", "-m", "-1"}, 2);
}

TEST(Fsslower, NothingRemainsAfterExit) {
    for (int signo : {SIGINT, SIGTERM})
        expect_cleanup({"fsslower", "-t", "ext4"}, signo, 2);
    expect_cleanup({"fsslower", "-t", "ext4", "-d", "1"}, 0, 2);
}
