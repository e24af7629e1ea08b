// vfsstat on the real kernel: a child makes known numbers of reads, writes, fsyncs, opens,
// creates, unlinks, mkdirs and rmdirs; vfsstat's per-interval counts must add up to them.
#include "scratch_dir.hpp"
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <map>
#include <sstream>
#include <regex>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

// What the child does, by column. Every open of the work counts in OPEN, creates included.
struct Work {
    int reads = 7, writes = 5, fsyncs = 3, opens = 4; // opens: of an existing file, read-only
    // Fixed by the work below: 1 create (and its open), 1 open to read, 1 unlink, 1 mkdir, 1 rmdir.
    std::map<std::string, std::uint64_t> expected() const {
        return {{"read", reads}, {"write", writes}, {"fsync", fsyncs}, {"open", opens + 2},
                {"create", 1},   {"unlink", 1},     {"mkdir", 1},      {"rmdir", 1}};
    }
};

void do_work(const Work& work, const std::string& dir) {
    const std::string created = dir + "/created", existing = dir + "/existing",
                      subdir = dir + "/subdir";
    char buf[16] = "0123456789abcde";
    int fd = ::open(created.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    for (int i = 0; i < work.writes; i++) {
        if (i % 2) { // write(2) and writev(2) both count as WRITE
            iovec iov{buf, sizeof(buf)};
            (void)!::writev(fd, &iov, 1);
        } else {
            (void)!::write(fd, buf, sizeof(buf));
        }
    }
    for (int i = 0; i < work.fsyncs; i++)
        i % 2 ? ::fdatasync(fd) : ::fsync(fd);
    ::close(fd);
    for (int i = 0; i < work.opens; i++)
        ::close(::open(existing.c_str(), O_RDONLY | O_CLOEXEC));
    fd = ::open(existing.c_str(), O_RDONLY | O_CLOEXEC);
    for (int i = 0; i < work.reads; i++)
        i % 2 ? (void)!::pread(fd, buf, 4, 0) : (void)!::read(fd, buf, 4);
    ::close(fd);
    ::mkdir(subdir.c_str(), 0700);
    ::rmdir(subdir.c_str());
    ::unlink(created.c_str());
}

std::map<std::string, std::uint64_t> totals(const std::vector<json>& lines) {
    std::map<std::string, std::uint64_t> sum;
    for (const auto& line : lines)
        for (const auto& [name, value] : line["counts"].items())
            sum[name] += value.get<std::uint64_t>();
    return sum;
}

std::string make_existing(const ScratchDir& dir) {
    const std::string path = dir / "existing";
    int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    (void)!::write(fd, "some bytes to read back", 23);
    ::close(fd);
    return path;
}

} // namespace

// -p CHILD: every column counts exactly the child's calls (its blocking read of the go pipe
// began before vfsstat attached, and is not counted: READ counts calls as they enter).
TEST(Vfsstat, CountsExactlyTheCallsOfAChild) {
    ScratchDir dir("vfsstat");
    make_existing(dir);
    Work work;
    Child child([&] { do_work(work, dir.path()); }, /*exit_after=*/true);
    ToolRun run = run_around({"vfsstat", "--json", "-p", std::to_string(child.pid()), "1"},
                             let_run({&child}));
    ASSERT_FALSE(run.lines.empty()) << run.err;
    for (const auto& line : run.lines) {
        EXPECT_GT(line["time_unix_ns"].get<std::int64_t>(), 0);
        EXPECT_GT(line["elapsed_s"].get<double>(), 0.0);
        EXPECT_EQ(line["counts"].size(), 8u);
        EXPECT_EQ(line["per_second"].size(), 8u);
    }
    EXPECT_EQ(totals(run.lines), work.expected()) << run.out;
}

// System-wide: the totals are at least the child's numbers (others add to them), while a run
// filtered to an idle child counts nothing at all.
TEST(Vfsstat, SystemWideAtLeastTheChildAndAQuietBaseline) {
    ScratchDir dir("vfsstat");
    make_existing(dir);
    Work work;
    work.reads = 50;
    work.writes = 40;
    Child child([&] { do_work(work, dir.path()); }, /*exit_after=*/true);
    ToolRun busy = run_around({"vfsstat", "--json", "1"}, let_run({&child}));
    auto sum = totals(busy.lines);
    for (const auto& [name, expected] : work.expected())
        EXPECT_GE(sum[name], expected) << name << "\n" << busy.out;

    Child idle([] {}, /*exit_after=*/true);
    ToolRun quiet = run_around({"vfsstat", "--json", "-p", std::to_string(idle.pid()), "1"}, [] {});
    ASSERT_FALSE(quiet.lines.empty());
    for (const auto& [name, value] : totals(quiet.lines))
        EXPECT_EQ(value, 0u) << name;
    EXPECT_NE(totals(quiet.lines), sum);
}

// libbpf-tools' text layout, and [interval] [count] ending the run by itself.
TEST(Vfsstat, TextColumnsAndCount) {
    Completed result = run({coretrace_binary(), "vfsstat", "1", "2"}, 20s);
    ASSERT_EQ(result.code, 0) << result.err;
    std::istringstream out(result.out);
    std::string line;
    std::vector<std::string> lines;
    while (std::getline(out, line))
        lines.push_back(line);
    ASSERT_EQ(lines.size(), 4u) << result.out; // banner, header, two rows
    EXPECT_EQ(lines[0], "Tracing VFS calls (at system calls)... Hit Ctrl-C to end.");
    // "%-8s  " then " %6s/s" per column, as libbpf-tools prints it.
    EXPECT_EQ(lines[1], "TIME      "
                        "   READ/s  WRITE/s  FSYNC/s   OPEN/s CREATE/s UNLINK/s  MKDIR/s  RMDIR/s");
    const std::regex row(R"(\d\d:\d\d:\d\d:( +\d+){8})");
    for (int i = 2; i < 4; i++) {
        EXPECT_TRUE(std::regex_match(lines[i], row)) << lines[i];
        EXPECT_EQ(lines[i].size(), lines[1].size()) << lines[i]; // "%-8s: " then " %8llu"
    }
}

TEST(Vfsstat, BadInput) {
    expect_refused({"vfsstat", "-p", "999999999"}, 1);
    expect_refused({"vfsstat", "0"}, 2);
    expect_refused({"vfsstat", "1", "x"}, 2);
    expect_refused({"vfsstat", "-c", "/nonexistent-cgroup"}, 1);
}

TEST(Vfsstat, NothingRemainsAfterExit) {
    expect_cleanup({"vfsstat", "--json", "1"}, SIGINT, 2);
    expect_cleanup({"vfsstat", "-p", "1"}, SIGTERM, 2);
    expect_cleanup({"vfsstat", "1", "1"}, 0, 2);
}
