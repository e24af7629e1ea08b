// syncsnoop on the real kernel: a child calls fsync(2), fdatasync(2), syncfs(2), msync(2),
// sync_file_range(2) and sync(2) a known number of times on a file of the test's; syncsnoop must
// report exactly those calls with their arguments.
#include "scratch_dir.hpp"
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

constexpr int fsyncs = 5, fdatasyncs = 3, syncs = 2;

std::size_t count_of(const std::vector<json>& records, const std::string& syscall) {
    return std::count_if(records.begin(), records.end(),
                         [&](const json& r) { return r["syscall"] == syscall; });
}

} // namespace

TEST(Syncsnoop, ReportsEachSyncCall) {
    ScratchDir dir("syncsnoop");
    const std::string path = dir / "file";
    const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 4096), 0);
    void* map = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(map, MAP_FAILED);
    Child child([&] {
        for (int i = 0; i < fsyncs; i++)
            ::syscall(SYS_fsync, fd);
        for (int i = 0; i < fdatasyncs; i++)
            ::syscall(SYS_fdatasync, fd);
        ::syscall(SYS_syncfs, fd);
        ::syscall(SYS_msync, map, 4096, MS_SYNC);
        ::syscall(SYS_sync_file_range, fd, 0, 4096, SYNC_FILE_RANGE_WRITE);
        for (int i = 0; i < syncs; i++)
            ::syscall(SYS_sync);
    });
    auto records = event_records(
        run_around({"syncsnoop", "--json", "-p", std::to_string(child.pid())}, let_run({&child})));
    ::munmap(map, 4096);
    ::close(fd);

    ASSERT_EQ(records.size(), static_cast<std::size_t>(fsyncs + fdatasyncs + 3 + syncs));
    EXPECT_EQ(count_of(records, "fsync"), static_cast<std::size_t>(fsyncs));
    EXPECT_EQ(count_of(records, "fdatasync"), static_cast<std::size_t>(fdatasyncs));
    EXPECT_EQ(count_of(records, "sync"), static_cast<std::size_t>(syncs));
    for (const auto& r : records) {
        EXPECT_EQ(r["pid"], child.pid());
        EXPECT_EQ(r["tid"], child.pid());
        EXPECT_EQ(r["comm"], "kernel_tests");
        const std::string call = r["syscall"];
        if (call == "fsync" || call == "fdatasync" || call == "syncfs" ||
            call == "sync_file_range") {
            EXPECT_EQ(r["fd"], fd) << r.dump();
        }
    }
    const json& msync = records[fsyncs + fdatasyncs + 1];
    EXPECT_EQ(msync["syscall"], "msync");
    EXPECT_EQ(msync["addr"], reinterpret_cast<std::uintptr_t>(map));
    EXPECT_EQ(msync["length"], 4096);
    EXPECT_EQ(msync["flags"], MS_SYNC);
    const json& range = records[fsyncs + fdatasyncs + 2];
    EXPECT_EQ(range["syscall"], "sync_file_range");
    EXPECT_EQ(range["offset"], 0);
    EXPECT_EQ(range["nbytes"], 4096);
    EXPECT_EQ(range["flags"], SYNC_FILE_RANGE_WRITE);
    // In the order made, with rising timestamps.
    for (std::size_t i = 1; i < records.size(); i++)
        EXPECT_LE(records[i - 1]["monotonic_ns"].get<std::uint64_t>(),
                  records[i]["monotonic_ns"].get<std::uint64_t>());
}

// bcc's layout with PID and COMM added: "%-18.9f %-7d %-16s CALL".
TEST(Syncsnoop, TextColumns) {
    Child child([] { ::syscall(SYS_sync); });
    ToolRun run = run_around({"syncsnoop", "-p", std::to_string(child.pid())}, let_run({&child}));
    const std::string& out = run.out;
    EXPECT_NE(out.find("TIME(s)            PID     COMM             CALL\n"), std::string::npos)
        << out;
    char tail[64];
    std::snprintf(tail, sizeof(tail), " %-7d %-16s sync()\n", child.pid(), "kernel_tests");
    auto at = out.find(tail);
    ASSERT_NE(at, std::string::npos) << out;
    const std::string time = out.substr(out.rfind('\n', at) + 1, 18);
    EXPECT_GT(std::stod(time), 0.0) << out;
}

TEST(Syncsnoop, BadInput) {
    expect_refused({"syncsnoop", "-p", "999999999"}, 1);
}

TEST(Syncsnoop, NothingRemainsAfterSigint) {
    expect_cleanup({"syncsnoop", "-p", "1"}, SIGINT, 6);
}

TEST(Syncsnoop, NothingRemainsAfterDuration) {
    expect_cleanup({"syncsnoop", "--json", "-d", "1"}, 0, 6);
}
