// opensnoop on the real kernel: a child opens paths the test chose, a known number of times, with
// known results; opensnoop, filtering in the kernel, must report exactly those calls.
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <atomic>
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

// A path no other process opens: under a fresh directory named after this test process.
class TempDir {
  public:
    TempDir() {
        static std::atomic<int> serial{0};
        path_ =
            std::filesystem::temp_directory_path() /
            ("coretrace-opensnoop-" + std::to_string(::getpid()) + "-" + std::to_string(serial++));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    // Creates `name` (empty) and returns its full path.
    std::string file(const std::string& name) const {
        std::string full = path_ / name;
        int fd = ::open(full.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd >= 0)
            ::close(fd);
        return full;
    }
    std::string missing(const std::string& name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

// Opens and closes `path` `times` times with openat(2) (glibc's open), in the calling process.
void open_times(const std::string& path, int times) {
    for (int i = 0; i < times; i++) {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            ::close(fd);
    }
}

struct Traced {
    std::vector<json> records; // the per-call objects, in order
    json summary;
    std::string err;
};

// Runs opensnoop --json with `args` while `child` does its work, then stops it with SIGINT.
Traced trace(Child& child, std::vector<std::string> args) {
    std::vector<std::string> argv = {coretrace_binary(), "opensnoop", "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess tool(argv);
    Traced traced;
    EXPECT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    EXPECT_EQ(child.reap(), 0);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    traced.err = tool.err();
    auto lines = json_lines(tool.out());
    EXPECT_FALSE(lines.empty()) << tool.err();
    if (lines.empty())
        return traced;
    traced.summary = lines.back();
    lines.pop_back();
    traced.records = std::move(lines);
    // (4) Nothing lost, and the summary counts exactly the records printed.
    EXPECT_EQ(traced.summary["type"], "summary");
    EXPECT_EQ(traced.summary["lost"], 0);
    EXPECT_EQ(traced.summary["events"], traced.records.size());
    EXPECT_NE(traced.err.find("\n0 events lost\n"), std::string::npos) << traced.err;
    return traced;
}

std::size_t count_path(const std::vector<json>& records, const std::string& path) {
    return std::count_if(records.begin(), records.end(),
                         [&](const json& r) { return r["path"] == path; });
}

} // namespace

// (1) Exactly the child's 20 opens, with their path, pid, a valid fd and no error.
TEST(Opensnoop, SeesExactlyTheOpensOfAChild) {
    constexpr int opens = 20;
    TempDir dir;
    const std::string path = dir.file("twenty");
    Child child([&] { open_times(path, opens); }, /*exit_after=*/true);
    Traced traced = trace(child, {"-p", std::to_string(child.pid())});

    ASSERT_EQ(traced.records.size(), static_cast<std::size_t>(opens)) << traced.err;
    for (const auto& record : traced.records) {
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
    TempDir dir;
    const std::string a = dir.missing("by-open"), b = dir.missing("by-openat"),
                      c = dir.missing("by-openat2");
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
    Traced traced = trace(child, {"-p", std::to_string(child.pid())});

    ASSERT_EQ(traced.records.size(), 3u) << traced.err;
    const auto& r = traced.records;
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
    TempDir dir;
    const std::string present = dir.file("present"), missing = dir.missing("missing");
    auto work = [&] {
        open_times(missing, 3);
        open_times(present, 2);
    };

    Child all_child(work, /*exit_after=*/true);
    Traced all = trace(all_child, {"-p", std::to_string(all_child.pid())});
    ASSERT_EQ(all.records.size(), 5u) << all.err;
    EXPECT_EQ(count_path(all.records, missing), 3u);
    EXPECT_EQ(count_path(all.records, present), 2u);
    for (const auto& record : all.records) {
        bool failed = record["path"] == missing;
        EXPECT_EQ(record["errno"], failed ? ENOENT : 0);
        if (failed)
            EXPECT_EQ(record["fd"], -1);
        else
            EXPECT_GE(record["fd"].get<int>(), 0);
    }

    Child failed_child(work, /*exit_after=*/true);
    Traced failed = trace(failed_child, {"-x", "-p", std::to_string(failed_child.pid())});
    ASSERT_EQ(failed.records.size(), 3u) << failed.err;
    for (const auto& record : failed.records) {
        EXPECT_EQ(record["path"], missing);
        EXPECT_EQ(record["errno"], ENOENT);
        EXPECT_EQ(record["fd"], -1);
    }
}

// (3) -n keeps the command names containing NAME, system-wide: of two children opening the
// same path, only the renamed one is reported.
TEST(Opensnoop, NameFilterMatchesCommSubstring) {
    TempDir dir;
    const std::string path = dir.file("named");
    Child other([&] { open_times(path, 4); }, /*exit_after=*/true);
    Child named(
        [&] {
            ::prctl(PR_SET_NAME, "ct-osnoop-abcd名");
            open_times(path, 6);
        },
        /*exit_after=*/true);

    Subprocess tool({coretrace_binary(), "opensnoop", "--json", "-n", "osnoop"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    other.go();
    named.go();
    ASSERT_EQ(other.reap(), 0);
    ASSERT_EQ(named.reap(), 0);
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(20s), 0) << tool.err();
    auto lines = json_lines(tool.out());
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back()["type"], "summary");
    EXPECT_EQ(lines.back()["lost"], 0);
    lines.pop_back();
    ASSERT_EQ(lines.size(), 6u) << tool.out();
    for (const auto& record : lines) {
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
    TempDir dir;
    const std::string match = dir.file("needle-file"), other = dir.file("hay-file");
    auto work = [&] {
        open_times(match, 2);
        open_times(other, 3);
    };

    Child contains_child(work, /*exit_after=*/true);
    const std::string needle =
        std::filesystem::path(match).parent_path().filename().string() + "/needle";
    Traced contains = trace(contains_child, {"--path", needle});
    ASSERT_EQ(contains.records.size(), 2u) << contains.err;
    EXPECT_EQ(count_path(contains.records, match), 2u);

    Child prefix_child(work, /*exit_after=*/true);
    const std::string dir_prefix = std::filesystem::path(match).parent_path().string() + "/";
    Traced prefix = trace(prefix_child, {"--path-prefix", dir_prefix});
    ASSERT_EQ(prefix.records.size(), 5u) << prefix.err;
    EXPECT_EQ(count_path(prefix.records, match), 2u);
    EXPECT_EQ(count_path(prefix.records, other), 3u);

    // A prefix that is only a substring matches nothing.
    Child none_child(work, /*exit_after=*/true);
    Traced none = trace(none_child, {"--path-prefix", needle});
    EXPECT_TRUE(none.records.empty());
}

// Paths longer than the 255 bytes kept are cut cleanly and flagged, never padded with garbage.
TEST(Opensnoop, LongPathIsTruncatedCleanly) {
    TempDir dir;
    const std::string path = dir.missing(std::string(250, 'x')) + "/" + std::string(100, 'y');
    Child child([&] { open_times(path, 1); }, /*exit_after=*/true);
    Traced traced = trace(child, {"-p", std::to_string(child.pid())});
    ASSERT_EQ(traced.records.size(), 1u) << traced.err;
    EXPECT_EQ(traced.records[0]["path"], path.substr(0, 255));
    EXPECT_EQ(traced.records[0]["path_truncated"], true);
    EXPECT_EQ(traced.records[0]["errno"], ENOENT); // each component fits NAME_MAX
}

// libbpf-tools' text columns, with -U and -e.
TEST(Opensnoop, TextColumns) {
    TempDir dir;
    const std::string path = dir.file("text");
    Child child([&] { open_times(path, 1); }, /*exit_after=*/true);
    Subprocess tool(
        {coretrace_binary(), "opensnoop", "-U", "-e", "-p", std::to_string(child.pid())});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    ASSERT_EQ(child.reap(), 0);
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_NE(tool.out().find("UID     PID    COMM              FD ERR FLAGS    PATH\n"),
              std::string::npos)
        << tool.out();
    // The line of the child's open: every column but FD (the child's lowest free descriptor,
    // which depends on what it inherited) is known exactly.
    std::istringstream out(tool.out());
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
    EXPECT_EQ(lines_of_path, 1) << tool.out();
}

// (5) Whichever way it ends, none of its programs, maps or links remain.
struct End {
    std::string name;
    std::vector<std::string> args;
    int signo; // 0: the tool ends by itself
};
class OpensnoopCleanup : public testing::TestWithParam<End> {};

TEST_P(OpensnoopCleanup, NothingOfTheToolRemains) {
    const auto& [name, args, signo] = GetParam();
    std::vector<std::string> argv = {coretrace_binary(), "opensnoop"};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess tool(argv);
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 4u); // entry and exit of openat at least
    EXPECT_GE(held.maps.size(), 1u);
    EXPECT_GE(held.links.size(), 4u);
    if (signo)
        tool.signal(signo);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    BpfObjects left = still_loaded(held, std::chrono::seconds(3));
    EXPECT_TRUE(left.empty());
}

INSTANTIATE_TEST_SUITE_P(Opensnoop, OpensnoopCleanup,
                         testing::Values(End{"Sigint", {"-p", "1"}, SIGINT},
                                         End{"Sigterm", {"--json", "-x"}, SIGTERM},
                                         End{"Sighup", {"-e", "--path", "/etc"}, SIGHUP},
                                         End{"DurationReached", {"-d", "1", "-n", "nothing"}, 0}),
                         [](const auto& info) { return info.param.name; });
