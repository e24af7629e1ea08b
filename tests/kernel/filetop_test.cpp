// filetop on the real kernel: a child writes a known number of bytes in a known number of calls
// to a file only it uses and reads them back; filetop -p CHILD must report exactly that.
#include "scratch_dir.hpp"
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <regex>
#include <sstream>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

constexpr int kWrites = 12;
constexpr std::size_t kChunk = 4096;             // bytes per write
constexpr std::size_t kBytes = kWrites * kChunk; // 48 KiB
constexpr int kReads = kBytes / 1024;            // read back 1 KiB at a time

// Writes kBytes to `path` in kWrites calls (write, pwrite64 and writev), then reads them back in
// kReads calls (read, pread64 and readv) without reaching end of file.
void write_then_read(const std::string& path) {
    std::vector<char> chunk(kChunk, 'x');
    int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600);
    for (int i = 0; i < kWrites; i++) {
        if (i % 3 == 0) {
            (void)!::write(fd, chunk.data(), kChunk);
        } else if (i % 3 == 1) {
            (void)!::pwrite(fd, chunk.data(), kChunk, static_cast<off_t>(i * kChunk));
            ::lseek(fd, static_cast<off_t>((i + 1) * kChunk), SEEK_SET);
        } else {
            iovec iov[2] = {{chunk.data(), kChunk / 2}, {chunk.data(), kChunk / 2}};
            (void)!::writev(fd, iov, 2);
        }
    }
    ::lseek(fd, 0, SEEK_SET);
    char buf[1024];
    for (int i = 0; i < kReads; i++) {
        if (i % 3 == 0) {
            (void)!::read(fd, buf, sizeof(buf));
        } else if (i % 3 == 1) {
            (void)!::pread(fd, buf, sizeof(buf), static_cast<off_t>(i * sizeof(buf)));
            ::lseek(fd, static_cast<off_t>((i + 1) * sizeof(buf)), SEEK_SET);
        } else {
            iovec iov{buf, sizeof(buf)};
            (void)!::readv(fd, &iov, 1);
        }
    }
    ::close(fd);
}

// The rows of all intervals for `file`, keyed by nothing: filetop deletes what it reports, so
// one file's counts may be split over intervals.
json sum_rows(const std::vector<json>& lines, const std::string& file) {
    json sum = {{"reads", 0}, {"writes", 0}, {"read_bytes", 0}, {"write_bytes", 0}, {"rows", 0}};
    for (const auto& line : lines)
        for (const auto& row : line["files"])
            if (row["file"] == file) {
                for (const char* k : {"reads", "writes", "read_bytes", "write_bytes"})
                    sum[k] = sum[k].get<std::uint64_t>() + row[k].get<std::uint64_t>();
                sum["rows"] = sum["rows"].get<int>() + 1;
                sum["last"] = row;
            }
    return sum;
}

} // namespace

TEST(Filetop, ExactWritesAndReadsOfAChildsFile) {
    ScratchDir dir("filetop");
    const std::string name = "unique-" + std::to_string(::getpid()) + ".dat";
    Child child([&] { write_then_read(dir / name); }, /*exit_after=*/true);
    ToolRun run = run_around({"filetop", "--json", "-p", std::to_string(child.pid()), "30"},
                             let_run({&child}));
    ASSERT_FALSE(run.lines.empty()) << run.err;
    for (const auto& line : run.lines)
        EXPECT_EQ(line["lost"], 0);
    json sum = sum_rows(run.lines, name);
    ASSERT_GE(sum["rows"].get<int>(), 1) << run.out;
    EXPECT_EQ(sum["writes"], kWrites);
    EXPECT_EQ(sum["write_bytes"], kBytes);
    EXPECT_EQ(sum["reads"], kReads);
    EXPECT_EQ(sum["read_bytes"], kBytes);
    const json& row = sum["last"];
    EXPECT_EQ(row["write_kb"], kBytes / 1024);
    EXPECT_EQ(row["read_kb"], kBytes / 1024);
    EXPECT_EQ(row["tid"], child.pid());
    EXPECT_EQ(row["pid"], child.pid());
    EXPECT_EQ(row["comm"], "kernel_tests");
    EXPECT_EQ(row["type"], "R");
    struct stat st {};
    ASSERT_EQ(::stat((dir / name).c_str(), &st), 0);
    EXPECT_EQ(row["inode"], st.st_ino);
    // Only the child's files: -p is applied in the kernel.
    for (const auto& line : run.lines)
        for (const auto& r : line["files"])
            EXPECT_EQ(r["pid"], child.pid()) << r;
}

// Without -a only regular files; with -a a socket ('S') and a pipe ('O') show up too.
TEST(Filetop, SpecialFilesOnlyWithDashA) {
    auto work = [] {
        int sv[2], pipefd[2];
        char buf[100] = {};
        ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
        ::pipe2(pipefd, O_CLOEXEC);
        for (int i = 0; i < 3; i++)
            (void)!::write(sv[0], buf, sizeof(buf));
        for (int i = 0; i < 2; i++)
            (void)!::write(pipefd[1], buf, 10);
    };
    for (bool all : {false, true}) {
        Child child(work, /*exit_after=*/true);
        std::vector<std::string> args = {"filetop", "--json", "-p", std::to_string(child.pid())};
        if (all)
            args.push_back("-a");
        args.push_back("30");
        ToolRun run = run_around(args, let_run({&child}));
        std::map<std::string, json> by_type;
        for (const auto& line : run.lines)
            for (const auto& row : line["files"])
                by_type[row["type"]] = row;
        if (!all) {
            EXPECT_TRUE(by_type.empty()) << run.out;
            continue;
        }
        ASSERT_EQ(by_type.count("S"), 1u) << run.out;
        EXPECT_EQ(by_type["S"]["writes"], 3);
        EXPECT_EQ(by_type["S"]["write_bytes"], 300);
        ASSERT_EQ(by_type.count("O"), 1u) << run.out;
        EXPECT_EQ(by_type["O"]["writes"], 2);
        EXPECT_EQ(by_type["O"]["write_bytes"], 20);
    }
}

// -r keeps the top ROWS by -s: three files written 1, 2 and 3 times, sorted by writes.
TEST(Filetop, RowsAndSort) {
    ScratchDir dir("filetop");
    Child child(
        [&] {
            for (int n = 1; n <= 3; n++) {
                int fd = ::open((dir / ("f" + std::to_string(n))).c_str(),
                                O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
                for (int i = 0; i < n; i++)
                    (void)!::write(fd, "abcd", 4);
                ::close(fd);
            }
        },
        /*exit_after=*/true);
    ToolRun run = run_around(
        {"filetop", "--json", "-s", "writes", "-r", "2", "-p", std::to_string(child.pid()), "30"},
        let_run({&child}));
    ASSERT_EQ(run.lines.size(), 1u) << run.out; // one interval: the one Ctrl-C ended
    const json& files = run.lines[0]["files"];
    ASSERT_EQ(files.size(), 2u) << run.out;
    EXPECT_EQ(files[0]["file"], "f3");
    EXPECT_EQ(files[0]["writes"], 3);
    EXPECT_EQ(files[1]["file"], "f2");
    EXPECT_EQ(run.lines[0]["rows_omitted"], 1);
}

// libbpf-tools' text layout with -C (no screen clearing): loadavg line, header, rows.
TEST(Filetop, TextColumns) {
    ScratchDir dir("filetop");
    Child child([&] { write_then_read(dir / "text.dat"); }, /*exit_after=*/true);
    ToolRun run =
        run_around({"filetop", "-C", "-p", std::to_string(child.pid()), "30"}, let_run({&child}));
    EXPECT_EQ(run.out.find("\033["), std::string::npos); // -C: no clear-screen sequence
    std::istringstream out(run.out);
    std::string line;
    std::vector<std::string> lines;
    while (std::getline(out, line))
        lines.push_back(line);
    ASSERT_GE(lines.size(), 5u) << run.out;
    EXPECT_EQ(lines[0], "Tracing file reads and writes... Hit Ctrl-C to end.");
    EXPECT_TRUE(std::regex_match(lines[1], std::regex(R"(\d\d:\d\d:\d\d loadavg: .+)")))
        << lines[1];
    EXPECT_EQ(lines[2], "");
    EXPECT_EQ(lines[3], "TID     COMM             READS  WRITES R_Kb    W_Kb    T FILE");
    char expected[256];
    std::snprintf(expected, sizeof(expected), "%-7d %-16s %-6d %-6d %-7zu %-7zu %c %s", child.pid(),
                  "kernel_tests", kReads, kWrites, kBytes / 1024, kBytes / 1024, 'R', "text.dat");
    EXPECT_EQ(lines[4], expected);
}

TEST(Filetop, BadInput) {
    expect_refused({"filetop", "-p", "999999999"}, 1);
    expect_refused({"filetop", "-s", "size"}, 2);
    expect_refused({"filetop", "-r", "0"}, 2);
    expect_refused({"filetop", "1", "0"}, 2);
}

TEST(Filetop, NothingRemainsAfterExit) {
    expect_cleanup({"filetop", "-C", "--json", "1"}, SIGINT, 2);
    expect_cleanup({"filetop", "-a", "-p", "1"}, SIGTERM, 2);
    expect_cleanup({"filetop", "-C", "1", "1"}, 0, 2);
}
