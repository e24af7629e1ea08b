// statsnoop on the real kernel: a child stats paths the test chose, with each call of the
// family, a known number of times and with known results; statsnoop must report exactly those.
#include "scratch_dir.hpp"
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

// The calls themselves, not glibc's choice of call for stat(3).
void stat_calls(const std::string& present, const std::string& missing) {
    struct stat st;
    struct statfs sfs;
    struct statx stx;
    ::syscall(SYS_stat, present.c_str(), &st);
    ::syscall(SYS_lstat, missing.c_str(), &st);
    ::syscall(SYS_newfstatat, AT_FDCWD, present.c_str(), &st, AT_SYMLINK_NOFOLLOW);
    ::syscall(SYS_statx, AT_FDCWD, missing.c_str(), 0, STATX_BASIC_STATS, &stx);
    ::syscall(SYS_statfs, present.c_str(), &sfs);
}

std::string make_file(const ScratchDir& dir, const std::string& name) {
    std::ofstream(dir / name) << "x";
    return dir / name;
}

} // namespace

// Each call of the family, in order, with its path, its result, and for the *at calls the
// directory fd and flags.
TEST(Statsnoop, ReportsEachCallWithPathAndResult) {
    ScratchDir dir("statsnoop");
    const std::string present = make_file(dir, "present"), missing = dir / "missing";
    Child child([&] { stat_calls(present, missing); });
    auto records = event_records(
        run_around({"statsnoop", "--json", "-p", std::to_string(child.pid())}, let_run({&child})));
    ASSERT_EQ(records.size(), 5u);
    const struct {
        const char* syscall;
        std::string path;
        int err;
    } expected[] = {{"newstat", present, 0},
                    {"newlstat", missing, ENOENT},
                    {"newfstatat", present, 0},
                    {"statx", missing, ENOENT},
                    {"statfs", present, 0}};
    for (std::size_t i = 0; i < records.size(); i++) {
        const json& r = records[i];
        EXPECT_EQ(r["syscall"], expected[i].syscall) << r.dump();
        EXPECT_EQ(r["path"], expected[i].path) << r.dump();
        EXPECT_EQ(r["errno"], expected[i].err) << r.dump();
        EXPECT_EQ(r["ret"], expected[i].err ? -1 : 0) << r.dump();
        EXPECT_EQ(r["pid"], child.pid());
        EXPECT_EQ(r["tid"], child.pid());
        EXPECT_EQ(r["comm"], "kernel_tests");
        EXPECT_EQ(r["path_truncated"], false);
        EXPECT_EQ(r["path_null"], false);
        EXPECT_GT(r["ts_ns"].get<std::int64_t>(), 0);
    }
    EXPECT_EQ(records[2]["dirfd"], AT_FDCWD);
    EXPECT_EQ(records[2]["flags"], AT_SYMLINK_NOFOLLOW);
    EXPECT_EQ(records[3]["dirfd"], AT_FDCWD);
}

// -x: the two failed calls and nothing else.
TEST(Statsnoop, FailedOnly) {
    ScratchDir dir("statsnoop");
    const std::string present = make_file(dir, "present"), missing = dir / "missing";
    Child child([&] {
        for (int i = 0; i < 3; i++)
            stat_calls(present, missing);
    });
    auto records = event_records(run_around(
        {"statsnoop", "--json", "-x", "-p", std::to_string(child.pid())}, let_run({&child})));
    ASSERT_EQ(records.size(), 6u);
    for (const auto& r : records) {
        EXPECT_EQ(r["path"], missing);
        EXPECT_EQ(r["errno"], ENOENT);
    }
}

// --tid: only the thread named, not the other thread of the same process.
TEST(Statsnoop, ThreadFilter) {
    ScratchDir dir("statsnoop");
    const std::string mine = make_file(dir, "main-thread"), other = make_file(dir, "worker");
    Child child([&] {
        struct stat st;
        std::thread worker([&] { ::syscall(SYS_stat, other.c_str(), &st); });
        worker.join();
        ::syscall(SYS_stat, mine.c_str(), &st);
    });
    auto records = event_records(run_around(
        {"statsnoop", "--json", "--tid", std::to_string(child.pid())}, let_run({&child})));
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0]["tid"], child.pid());
    EXPECT_EQ(records[0]["path"], mine);

    // The same work traced by process: both threads.
    Child both([&] {
        struct stat st;
        std::thread worker([&] { ::syscall(SYS_stat, other.c_str(), &st); });
        worker.join();
        ::syscall(SYS_stat, mine.c_str(), &st);
    });
    records = event_records(
        run_around({"statsnoop", "--json", "-p", std::to_string(both.pid())}, let_run({&both})));
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0]["path"], other);
    EXPECT_NE(records[0]["tid"], both.pid());
    EXPECT_EQ(records[1]["path"], mine);
}

// A path longer than the 255 bytes kept is cut cleanly and flagged.
TEST(Statsnoop, LongPathIsTruncatedCleanly) {
    ScratchDir dir("statsnoop");
    const std::string path = (dir / std::string(250, 'x')) + "/" + std::string(100, 'y');
    Child child([&] {
        struct stat st;
        ::syscall(SYS_stat, path.c_str(), &st);
    });
    auto records = event_records(
        run_around({"statsnoop", "--json", "-p", std::to_string(child.pid())}, let_run({&child})));
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0]["path"], path.substr(0, 255));
    EXPECT_EQ(records[0]["path_truncated"], true);
    EXPECT_EQ(records[0]["errno"], ENOENT);
}

// libbpf-tools' columns: "%-7d %-20s %-4d %-4d %s", and with -t a TIME(s) column.
TEST(Statsnoop, TextColumns) {
    ScratchDir dir("statsnoop");
    const std::string missing = dir / "missing";
    Child child([&] {
        struct stat st;
        ::syscall(SYS_stat, missing.c_str(), &st);
    });
    ToolRun run =
        run_around({"statsnoop", "-t", "-p", std::to_string(child.pid())}, let_run({&child}));
    EXPECT_NE(run.out.find("TIME(s)        PID     COMM                 RET  ERR  PATH\n"),
              std::string::npos)
        << run.out;
    char line[512];
    std::snprintf(line, sizeof(line), "%-14.9f %-7d %-20s %-4d %-4d %s\n", 0.0, child.pid(),
                  "kernel_tests", -1, ENOENT, missing.c_str());
    EXPECT_NE(run.out.find(line), std::string::npos) << run.out;
}

TEST(Statsnoop, BadInput) {
    expect_refused({"statsnoop", "-p", "999999999"}, 1);
}

TEST(Statsnoop, NothingRemainsAfterSigterm) {
    expect_cleanup({"statsnoop", "-x", "-p", "1"}, SIGTERM, 10);
}

TEST(Statsnoop, NothingRemainsAfterDuration) {
    expect_cleanup({"statsnoop", "--json", "-d", "1"}, 0, 10);
}
