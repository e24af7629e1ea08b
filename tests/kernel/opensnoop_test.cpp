// opensnoop on the real kernel: a child opens paths the test chose, a known number of times, with
// known results; opensnoop, filtering in the kernel, must report exactly those calls.
#include "scratch_dir.hpp"
#include "tool_run.hpp"

#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <sstream>
#include <cstring>
#include <linux/openat2.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

// Creates `path` (empty) and returns it.
std::string touch(const std::string& path) {
    int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0)
        ::close(fd);
    return path;
}

// Opens and closes `path` `times` times with openat(2) (glibc's open), in the calling process.
void open_times(const std::string& path, int times) {
    for (int i = 0; i < times; i++) {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            ::close(fd);
    }
}

std::size_t count_path(const std::vector<json>& records, const std::string& path) {
    return std::count_if(records.begin(), records.end(),
                         [&](const json& r) { return r["path"] == path; });
}

} // namespace

// (1) Exactly the child's 20 opens, with their path, pid, a valid fd and no error.
TEST(Opensnoop, SeesExactlyTheOpensOfAChild) {
    constexpr int opens = 20;
    ScratchDir dir("opensnoop");
    const std::string path = touch(dir / "twenty");
    Child child([&] { open_times(path, opens); }, /*exit_after=*/true);
    ToolRun traced =
        run_around({"opensnoop", "--json", "-p", std::to_string(child.pid())}, let_run({&child}));
    const std::vector<json> records = event_records(traced);

    ASSERT_EQ(records.size(), static_cast<std::size_t>(opens)) << traced.err;
    for (const auto& record : records) {
        EXPECT_EQ(record["path"], path);
        EXPECT_EQ(record["pid"], child.pid());
        EXPECT_EQ(record["tid"], child.pid());
        EXPECT_EQ(record["uid"], ::getuid());
        EXPECT_EQ(record["comm"], "kernel_tests");
        EXPECT_GE(record["fd"].get<int>(), 0);
        EXPECT_EQ(record["errno"], 0);
        EXPECT_EQ(record["syscall"], "openat");
        EXPECT_EQ(record["flags"], O_RDONLY | O_CLOEXEC);
        EXPECT_EQ(record["path_truncated"], false);
        EXPECT_GT(record["ts_ns"].get<std::int64_t>(), 0);
    }
}

// Each system call of the family, with its own flags and mode: open(2), openat(2), openat2(2).
TEST(Opensnoop, ReportsEachSyscallWithFlagsAndMode) {
    ScratchDir dir("opensnoop");
    const std::string a = dir / "by-open", b = dir / "by-openat", c = dir / "by-openat2";
    Child child(
        [&] {
            long fd = ::syscall(SYS_open, a.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
            ::close(static_cast<int>(fd));
            fd = ::syscall(SYS_openat, AT_FDCWD, b.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0640);
            ::close(static_cast<int>(fd));
            open_how how{};
            how.flags = O_CREAT | O_WRONLY | O_CLOEXEC;
            how.mode = 0604;
            fd = ::syscall(SYS_openat2, AT_FDCWD, c.c_str(), &how, sizeof(how));
            ::close(static_cast<int>(fd));
        },
        /*exit_after=*/true);
    ToolRun traced =
        run_around({"opensnoop", "--json", "-p", std::to_string(child.pid())}, let_run({&child}));
    const std::vector<json> records = event_records(traced);

    ASSERT_EQ(records.size(), 3u) << traced.err;
    const auto& r = records;
    EXPECT_EQ(r[0]["syscall"], "open");
    EXPECT_EQ(r[0]["path"], a);
    EXPECT_EQ(r[0]["flags"], O_CREAT | O_WRONLY | O_CLOEXEC);
    EXPECT_EQ(r[0]["mode"], 0600);
    EXPECT_EQ(r[1]["syscall"], "openat");
    EXPECT_EQ(r[1]["path"], b);
    EXPECT_EQ(r[1]["flags"], O_CREAT | O_RDWR | O_CLOEXEC);
    EXPECT_EQ(r[1]["mode"], 0640);
    EXPECT_EQ(r[2]["syscall"], "openat2");
    EXPECT_EQ(r[2]["path"], c);
    EXPECT_EQ(r[2]["flags"], O_CREAT | O_WRONLY | O_CLOEXEC);
    EXPECT_EQ(r[2]["mode"], 0604);
    for (const auto& record : r) {
        EXPECT_GE(record["fd"].get<int>(), 0);
        EXPECT_EQ(record["errno"], 0);
    }
}

// (2) A missing path fails with ENOENT; -x shows the failed calls and nothing else.
TEST(Opensnoop, FailedOpensAndDashX) {
    ScratchDir dir("opensnoop");
    const std::string present = touch(dir / "present"), missing = dir / "missing";
    auto work = [&] {
        open_times(missing, 3);
        open_times(present, 2);
    };

    Child all_child(work, /*exit_after=*/true);
    ToolRun all = run_around({"opensnoop", "--json", "-p", std::to_string(all_child.pid())},
                             let_run({&all_child}));
    const std::vector<json> all_records = event_records(all);
    ASSERT_EQ(all_records.size(), 5u) << all.err;
    EXPECT_EQ(count_path(all_records, missing), 3u);
    EXPECT_EQ(count_path(all_records, present), 2u);
    for (const auto& record : all_records) {
        bool failed = record["path"] == missing;
        EXPECT_EQ(record["errno"], failed ? ENOENT : 0);
        if (failed)
            EXPECT_EQ(record["fd"], -1);
        else
            EXPECT_GE(record["fd"].get<int>(), 0);
    }

    Child failed_child(work, /*exit_after=*/true);
    ToolRun failed =
        run_around({"opensnoop", "--json", "-x", "-p", std::to_string(failed_child.pid())},
                   let_run({&failed_child}));
    const std::vector<json> failed_records = event_records(failed);
    ASSERT_EQ(failed_records.size(), 3u) << failed.err;
    for (const auto& record : failed_records) {
        EXPECT_EQ(record["path"], missing);
        EXPECT_EQ(record["errno"], ENOENT);
        EXPECT_EQ(record["fd"], -1);
    }
}

// (3) -n keeps the command names containing NAME, system-wide: of two children opening the
// same path, only the renamed one is reported.
TEST(Opensnoop, NameFilterMatchesCommSubstring) {
    ScratchDir dir("opensnoop");
    const std::string path = touch(dir / "named");
    Child other([&] { open_times(path, 4); }, /*exit_after=*/true);
    Child named(
        [&] {
            ::prctl(PR_SET_NAME, "ct-osnoop-abcd名");
            open_times(path, 6);
        },
        /*exit_after=*/true);

    ToolRun run = run_around({"opensnoop", "--json", "-n", "osnoop"}, let_run({&other, &named}));
    const std::vector<json> records = event_records(run);
    ASSERT_EQ(records.size(), 6u) << run.out;
    for (const auto& record : records) {
        EXPECT_EQ(record["pid"], named.pid());
        EXPECT_EQ(record["path"], path);
        // The kernel keeps 15 bytes of the name, the first of the 3 of U+540D among them: the
        // invalid UTF-8 left over becomes U+FFFD in JSON.
        EXPECT_EQ(record["comm"], "ct-osnoop-abcd\xEF\xBF\xBD");
    }
}

// The path filters run in the kernel: system-wide, only the paths that contain, or start with,
// the text are reported.
TEST(Opensnoop, PathFilters) {
    ScratchDir dir("opensnoop");
    const std::string match = touch(dir / "needle-file"), other = touch(dir / "hay-file");
    auto work = [&] {
        open_times(match, 2);
        open_times(other, 3);
    };

    Child contains_child(work, /*exit_after=*/true);
    const std::string needle =
        std::filesystem::path(match).parent_path().filename().string() + "/needle";
    ToolRun contains =
        run_around({"opensnoop", "--json", "--path", needle}, let_run({&contains_child}));
    const std::vector<json> contains_records = event_records(contains);
    ASSERT_EQ(contains_records.size(), 2u) << contains.err;
    EXPECT_EQ(count_path(contains_records, match), 2u);

    Child prefix_child(work, /*exit_after=*/true);
    const std::string dir_prefix = std::filesystem::path(match).parent_path().string() + "/";
    ToolRun prefix =
        run_around({"opensnoop", "--json", "--path-prefix", dir_prefix}, let_run({&prefix_child}));
    const std::vector<json> prefix_records = event_records(prefix);
    ASSERT_EQ(prefix_records.size(), 5u) << prefix.err;
    EXPECT_EQ(count_path(prefix_records, match), 2u);
    EXPECT_EQ(count_path(prefix_records, other), 3u);

    // A prefix that is only a substring matches nothing.
    Child none_child(work, /*exit_after=*/true);
    ToolRun none =
        run_around({"opensnoop", "--json", "--path-prefix", needle}, let_run({&none_child}));
    const std::vector<json> none_records = event_records(none);
    EXPECT_TRUE(none_records.empty());
}

// Paths longer than the 255 bytes kept are cut cleanly and flagged, never padded with garbage.
TEST(Opensnoop, LongPathIsTruncatedCleanly) {
    ScratchDir dir("opensnoop");
    const std::string path = (dir / std::string(250, 'x')) + "/" + std::string(100, 'y');
    Child child([&] { open_times(path, 1); }, /*exit_after=*/true);
    ToolRun traced =
        run_around({"opensnoop", "--json", "-p", std::to_string(child.pid())}, let_run({&child}));
    const std::vector<json> records = event_records(traced);
    ASSERT_EQ(records.size(), 1u) << traced.err;
    EXPECT_EQ(records[0]["path"], path.substr(0, 255));
    EXPECT_EQ(records[0]["path_truncated"], true);
    EXPECT_EQ(records[0]["errno"], ENOENT); // each component fits NAME_MAX
}

// libbpf-tools' text columns, with -U and -e.
TEST(Opensnoop, TextColumns) {
    ScratchDir dir("opensnoop");
    const std::string path = touch(dir / "text");
    Child child([&] { open_times(path, 1); }, /*exit_after=*/true);
    ToolRun run =
        run_around({"opensnoop", "-U", "-e", "-p", std::to_string(child.pid())}, let_run({&child}));
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_NE(run.out.find("UID     PID    COMM              FD ERR FLAGS    PATH\n"),
              std::string::npos)
        << run.out;
    // The line of the child's open: every column but FD (the child's lowest free descriptor,
    // which depends on what it inherited) is known exactly.
    std::istringstream out(run.out);
    std::string line;
    int lines_of_path = 0;
    while (std::getline(out, line)) {
        if (!line.ends_with(path))
            continue;
        lines_of_path++;
        char head[128], tail[512];
        std::snprintf(head, sizeof(head), "%-7u %-6d %-16s ", ::getuid(), child.pid(),
                      "kernel_tests");
        std::snprintf(tail, sizeof(tail), " %3d %08o %s", 0, O_RDONLY | O_CLOEXEC, path.c_str());
        ASSERT_EQ(line.size(), std::strlen(head) + 3 + std::strlen(tail)) << line;
        EXPECT_TRUE(line.starts_with(head)) << line;
        EXPECT_TRUE(line.ends_with(tail)) << line;
        int fd = std::stoi(line.substr(std::strlen(head), 3));
        EXPECT_GE(fd, 0) << line;
    }
    EXPECT_EQ(lines_of_path, 1) << run.out;
}

// (5) Whichever way it ends, none of its programs, maps or links remain.
namespace {
class OpensnoopCleanup : public testing::TestWithParam<Ending> {};
} // namespace

TEST_P(OpensnoopCleanup, NothingOfTheToolRemains) {
    // Entry and exit of openat at least.
    expect_cleanup(GetParam().args, GetParam().signo, GetParam().programs);
}

INSTANTIATE_TEST_SUITE_P(
    Opensnoop, OpensnoopCleanup,
    testing::Values(Ending{"Sigint", {"opensnoop", "-p", "1"}, SIGINT, 4},
                    Ending{"Sigterm", {"opensnoop", "--json", "-x"}, SIGTERM, 4},
                    Ending{"Sighup", {"opensnoop", "-e", "--path", "/etc"}, SIGHUP, 4},
                    Ending{"DurationReached", {"opensnoop", "-d", "1", "-n", "nothing"}, 0, 4}),
    [](const auto& info) { return info.param.name; });
