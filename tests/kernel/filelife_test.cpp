// filelife on the real kernel: a child creates a file, waits a known time and deletes it;
// filelife must report the file's name, the deleting process and an age close to that wait.
#include "scratch_dir.hpp"
#include "tool_run.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <sstream>
#include <cstring>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <thread>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

constexpr auto kLife = 200ms;

void create(const std::string& path) {
    ::close(::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600));
}

void create_wait_delete(const std::string& path) {
    create(path);
    std::this_thread::sleep_for(kLife);
    ::unlink(path.c_str());
}

void expect_age(const json& record) {
    const double age = record["age_s"].get<double>();
    EXPECT_GE(age, 0.2) << record;
    EXPECT_LT(age, 0.2 + 0.3) << record; // a loaded 2-core VM may oversleep a little
    EXPECT_EQ(record["age_ns"].get<std::uint64_t>() / 1000, static_cast<std::uint64_t>(age * 1e6))
        << record;
}

} // namespace

// On ext4 (/tmp here): the file, the child, and an age of about 200 ms, matched by inode.
TEST(Filelife, ReportsNamePidAndAgeOnExt4) {
    ScratchDir dir("filelife");
    if (filesystem_magic(dir.path()) != kExt4Magic)
        GTEST_SKIP() << dir.path() << " is not on ext4";
    const std::string file = "short-lived-" + std::to_string(::getpid());
    Child child([&] { create_wait_delete(dir / file); }, /*exit_after=*/true);
    ToolRun run =
        run_around({"filelife", "--json", "-p", std::to_string(child.pid())}, let_run({&child}));
    auto all = event_records(run);
    ASSERT_EQ(all.size(), 1u) << run.out;
    const json& r = all[0];
    EXPECT_EQ(r["file"], file);
    EXPECT_EQ(r["pid"], child.pid());
    EXPECT_EQ(r["tid"], child.pid());
    EXPECT_EQ(r["creator_pid"], child.pid());
    EXPECT_EQ(r["comm"], "kernel_tests");
    EXPECT_EQ(r["via"], "ext4");
    expect_age(r);
    struct stat st {};
    ASSERT_EQ(::stat(dir.path().c_str(), &st), 0);
    EXPECT_EQ(r["dev"], std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev)));
}

// The classic tracepoint fallback for ext4 (raw_tp disabled) still matches by inode.
TEST(Filelife, Ext4ClassicTracepointFallback) {
    ScratchDir dir("filelife");
    if (filesystem_magic(dir.path()) != kExt4Magic)
        GTEST_SKIP() << dir.path() << " is not on ext4";
    const std::string file = "fallback-" + std::to_string(::getpid());
    Child child([&] { create_wait_delete(dir / file); }, /*exit_after=*/true);
    ToolRun run = run_around({"filelife", "--json", "-v", "-p", std::to_string(child.pid())},
                             let_run({&child}), {.disable = "raw_tp"});
    EXPECT_NE(run.err.find("ext4 unlink: using tp/ext4/ext4_unlink_exit"), std::string::npos)
        << run.err;
    auto all = event_records(run);
    ASSERT_EQ(all.size(), 1u) << run.out;
    EXPECT_EQ(all[0]["file"], file);
    EXPECT_EQ(all[0]["pid"], child.pid());
    EXPECT_EQ(all[0]["via"], "ext4");
    expect_age(all[0]);
}

// On tmpfs (no unlink tracepoint) the deletion is matched at unlinkat(2) by the path: absolute,
// relative to the working directory, and relative to a directory descriptor. Deleted by another
// spelling (absolute, then relative), a file is not matched: the documented limit.
TEST(Filelife, MatchesByPathOnOtherFileSystems) {
    if (filesystem_magic("/dev/shm") != kTmpfsMagic)
        GTEST_SKIP() << "/dev/shm is not a tmpfs here";
    ScratchDir dir("filelife", "/dev/shm");
    const std::string tag = std::to_string(::getpid());
    const std::string absolute = "abs-" + tag, relative = "rel-" + tag, at_dirfd = "dirfd-" + tag,
                      respelled = "respelled-" + tag;
    Child child(
        [&] {
            create_wait_delete(dir / absolute);
            int dirfd = ::open(dir.path().c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
            ::close(::openat(dirfd, at_dirfd.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
            std::this_thread::sleep_for(kLife);
            ::unlinkat(dirfd, at_dirfd.c_str(), 0);
            if (::chdir(dir.path().c_str()) != 0)
                ::_exit(3);
            create_wait_delete(relative);
            create(dir / respelled);
            ::unlink(respelled.c_str());
        },
        /*exit_after=*/true);
    ToolRun run =
        run_around({"filelife", "--json", "-p", std::to_string(child.pid())}, let_run({&child}));
    auto all = event_records(run);
    ASSERT_EQ(all.size(), 3u) << run.out;
    EXPECT_EQ(all[0]["file"], absolute);
    EXPECT_EQ(all[1]["file"], at_dirfd);
    EXPECT_EQ(all[2]["file"], relative);
    for (const auto& r : all) {
        EXPECT_EQ(r["pid"], child.pid());
        EXPECT_EQ(r["via"], "syscall");
        expect_age(r);
    }
}

// On ext4, matched by inode: a file renamed and then deleted by another process is reported
// under its new name, with the deleter's PID and the creator's; a file with a second hard link
// lives on until the last one goes; a file that existed before is never reported.
TEST(Filelife, OtherProcessRenameHardLinkAndOldFiles) {
    ScratchDir dir("filelife");
    if (filesystem_magic(dir.path()) != kExt4Magic)
        GTEST_SKIP() << dir.path() << " is not on ext4";
    const std::string tag = std::to_string(::getpid());
    const std::string old_file = dir / ("old-" + tag);
    create(old_file);
    Child creator(
        [&] {
            create(dir / ("a-" + tag));
            ::rename((dir / ("a-" + tag)).c_str(), (dir / ("b-" + tag)).c_str());
            create(dir / ("linked-" + tag));
            ::link((dir / ("linked-" + tag)).c_str(), (dir / ("second-" + tag)).c_str());
        },
        /*exit_after=*/true);
    Child deleter(
        [&] {
            std::this_thread::sleep_for(kLife);
            ::unlink((dir / ("b-" + tag)).c_str());
            ::unlink(old_file.c_str());
            ::unlink((dir / ("linked-" + tag)).c_str()); // "second-" still links it
            ::unlink((dir / ("second-" + tag)).c_str());
        },
        /*exit_after=*/true);
    ToolRun run = run_around({"filelife", "--json"}, let_run({&creator, &deleter}));
    auto all = event_records(run);
    auto renamed = records_with(all, "file", "b-" + tag);
    ASSERT_EQ(renamed.size(), 1u) << run.out;
    EXPECT_EQ(renamed[0]["pid"], deleter.pid());
    EXPECT_EQ(renamed[0]["creator_pid"], creator.pid());
    expect_age(renamed[0]);
    EXPECT_TRUE(records_with(all, "file", "a-" + tag).empty());
    EXPECT_TRUE(records_with(all, "file", "old-" + tag).empty()) << run.out;
    EXPECT_TRUE(records_with(all, "file", "linked-" + tag).empty()) << run.out;
    auto last_link = records_with(all, "file", "second-" + tag);
    ASSERT_EQ(last_link.size(), 1u) << run.out;
    EXPECT_EQ(last_link[0]["pid"], deleter.pid());
}

// libbpf-tools' columns: TIME PID COMM AGE(s) FILE.
TEST(Filelife, TextColumns) {
    ScratchDir dir("filelife");
    const std::string file = "text-" + std::to_string(::getpid());
    Child child([&] { create_wait_delete(dir / file); }, /*exit_after=*/true);
    ToolRun run = run_around({"filelife", "-p", std::to_string(child.pid())}, let_run({&child}));
    std::istringstream out(run.out);
    std::string banner, header, line;
    std::getline(out, banner);
    std::getline(out, header);
    EXPECT_EQ(banner, "Tracing the lifespan of short-lived files... Hit Ctrl-C to end.");
    EXPECT_EQ(header, "TIME     PID    COMM             AGE(s)  FILE");
    ASSERT_TRUE(std::getline(out, line)) << run.out;
    char expected[128];
    std::snprintf(expected, sizeof(expected), " %-6d %-16s 0.", child.pid(), "kernel_tests");
    EXPECT_EQ(line.substr(8, std::strlen(expected)), expected) << line;
    EXPECT_TRUE(line.ends_with(" " + file)) << line;
    EXPECT_NE(run.err.find("0 events lost"), std::string::npos) << run.err;
}

TEST(Filelife, BadInput) {
    expect_refused({"filelife", "-p", "999999999"}, 1);
    expect_refused({"filelife", "-p", "abc"}, 2);
    expect_refused({"filelife", "-d", "0"}, 2);
}

TEST(Filelife, NothingRemainsAfterExit) {
    expect_cleanup({"filelife"}, SIGINT, 2);
    expect_cleanup({"filelife", "--json", "-p", "1"}, SIGTERM, 2);
    expect_cleanup({"filelife", "-d", "1"}, 0, 2);
}
