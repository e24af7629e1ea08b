// syscount on the real kernel: a child makes an exact number of distinctive system calls
// (getppid(2), failed openat(2) of a missing path) once syscount is attached; syscount, filtering
// in the kernel, must count exactly those.
#include "scratch_dir.hpp"
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>

#include <asm/unistd.h>
#include <fcntl.h>
#include <map>
#include <sstream>
#include <sys/syscall.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

constexpr int getppids = 1000;
constexpr int failed_opens = 7;

// The child's work: 1000 getppid(2), then 7 openat(2) of a path that does not exist.
std::function<void()> workload(const std::string& missing) {
    return [missing] {
        for (int i = 0; i < getppids; i++)
            ::syscall(SYS_getppid);
        for (int i = 0; i < failed_opens; i++)
            ::syscall(SYS_openat, AT_FDCWD, missing.c_str(), O_RDONLY);
    };
}

// The one JSON report syscount prints at SIGINT (no interval), as {key: entry}.
std::map<std::string, json> report_by_syscall(const ToolRun& run) {
    std::map<std::string, json> out;
    EXPECT_EQ(run.lines.size(), 1u) << run.err;
    if (run.lines.empty())
        return out;
    const json& report = run.lines.back();
    EXPECT_EQ(report["by"], "syscall");
    EXPECT_EQ(report["not_counted"], 0);
    for (const auto& entry : report["entries"])
        out[entry["syscall"].get<std::string>()] = entry;
    return out;
}

} // namespace

// Exactly the child's 1000 getppid and 7 openat, under the right names and numbers.
TEST(Syscount, CountsExactlyTheCallsOfAChild) {
    ScratchDir dir("syscount");
    Child child(workload(dir / "missing"));
    ToolRun run =
        run_around({"syscount", "--json", "-p", std::to_string(child.pid())}, let_run({&child}));
    auto entries = report_by_syscall(run);
    ASSERT_TRUE(entries.count("getppid")) << run.lines.back().dump();
    EXPECT_EQ(entries["getppid"]["count"], getppids);
    EXPECT_EQ(entries["getppid"]["nr"], __NR_getppid);
    ASSERT_TRUE(entries.count("openat")) << run.lines.back().dump();
    EXPECT_EQ(entries["openat"]["count"], failed_opens);
    EXPECT_EQ(entries["openat"]["nr"], __NR_openat);
    EXPECT_FALSE(entries["getppid"].contains("total_ns")); // no -L
    // Sorted by count, most first.
    EXPECT_EQ(run.lines.back()["entries"][0]["syscall"], "getppid");
}

// On the classic tracepoints (raw tracepoints disabled), the same exact count.
TEST(Syscount, TracepointFallbackCountsTheSame) {
    ScratchDir dir("syscount");
    Child child(workload(dir / "missing"));
    ToolRun run = run_around({"syscount", "--json", "-v", "-p", std::to_string(child.pid())},
                             let_run({&child}), {.disable = "raw_tp"});
    EXPECT_NE(run.err.find("syscall exit: using tp/raw_syscalls/sys_exit"), std::string::npos)
        << run.err;
    auto entries = report_by_syscall(run);
    ASSERT_TRUE(entries.count("getppid")) << run.out;
    EXPECT_EQ(entries["getppid"]["count"], getppids);
    EXPECT_EQ(entries["openat"]["count"], failed_opens);
}

// -x keeps only failed calls; -e ENOENT (by name or number) only those that failed with ENOENT.
TEST(Syscount, FailuresAndErrnoFilter) {
    ScratchDir dir("syscount");
    for (const std::vector<std::string>& filter :
         {std::vector<std::string>{"-x"}, std::vector<std::string>{"-e", "ENOENT"},
          std::vector<std::string>{"-e", "2"}}) {
        Child child(workload(dir / "missing"));
        std::vector<std::string> args = {"syscount", "--json"};
        args.insert(args.end(), filter.begin(), filter.end());
        args.insert(args.end(), {"-p", std::to_string(child.pid())});
        ToolRun run = run_around(args, let_run({&child}));
        auto entries = report_by_syscall(run);
        EXPECT_FALSE(entries.count("getppid")) << filter[0];
        ASSERT_TRUE(entries.count("openat")) << filter[0];
        EXPECT_EQ(entries["openat"]["count"], failed_opens) << filter[0];
        if (filter[0] == "-e") {
            EXPECT_EQ(entries.size(), 1u) << run.lines.back().dump();
        }
    }
    // An errno that none of the child's calls fails with: nothing at all.
    Child child(workload(dir / "missing"));
    ToolRun run =
        run_around({"syscount", "--json", "-e", "EACCES", "-p", std::to_string(child.pid())},
                   let_run({&child}));
    EXPECT_TRUE(report_by_syscall(run).empty());
}

// -P: one entry per process, the child's, with its command name and every call it made.
TEST(Syscount, PerProcess) {
    ScratchDir dir("syscount");
    Child child(workload(dir / "missing"));
    ToolRun run = run_around({"syscount", "--json", "-P", "-p", std::to_string(child.pid())},
                             let_run({&child}));
    ASSERT_EQ(run.lines.size(), 1u) << run.err;
    const json& report = run.lines[0];
    EXPECT_EQ(report["by"], "process");
    ASSERT_EQ(report["entries"].size(), 1u) << report.dump();
    const json& entry = report["entries"][0];
    EXPECT_EQ(entry["pid"], child.pid());
    EXPECT_EQ(entry["comm"], "kernel_tests");
    // Its getppid and openat calls, the read(2) that woke it, the close(2) that says "done",
    // and the read(2) it then blocks in (not returned yet, so not counted).
    EXPECT_GE(entry["count"].get<int>(), getppids + failed_opens);
    EXPECT_LE(entry["count"].get<int>(), getppids + failed_opens + 10);
}

// -L: the time the calls took, summed, non-zero, and sorted by it.
TEST(Syscount, Latency) {
    ScratchDir dir("syscount");
    Child child(workload(dir / "missing"));
    ToolRun run = run_around({"syscount", "--json", "-L", "-p", std::to_string(child.pid())},
                             let_run({&child}));
    auto entries = report_by_syscall(run);
    ASSERT_TRUE(entries.count("getppid"));
    EXPECT_EQ(entries["getppid"]["count"], getppids);
    EXPECT_GT(entries["getppid"]["total_ns"].get<std::uint64_t>(), 0u);
    EXPECT_GT(entries["openat"]["total_ns"].get<std::uint64_t>(), 0u);
    const auto& list = run.lines.back()["entries"];
    for (std::size_t i = 1; i < list.size(); i++)
        EXPECT_GE(list[i - 1]["total_ns"].get<std::uint64_t>(),
                  list[i]["total_ns"].get<std::uint64_t>());
}

// libbpf-tools' text: the [HH:MM:SS] line, the header, and "%-22s %8llu" rows.
TEST(Syscount, TextOutput) {
    ScratchDir dir("syscount");
    Child child(workload(dir / "missing"));
    ToolRun run = run_around({"syscount", "-L", "-m", "-T", "2", "-p", std::to_string(child.pid())},
                             let_run({&child}));
    EXPECT_EQ(run.out.rfind("Tracing syscalls, printing top 2... Hit Ctrl-C to end.\n", 0), 0u)
        << run.out;
    const std::string& out = run.out;
    EXPECT_NE(out.find("SYSCALL                   COUNT        TIME (ms)\n"), std::string::npos)
        << out;
    std::istringstream lines(out);
    std::string line;
    int rows = 0;
    bool getppid_row = false;
    while (std::getline(lines, line)) {
        if (line.size() == 10 && line[0] == '[' && line[9] == ']')
            continue;
        if (line.empty() || line.starts_with("Tracing") || line.starts_with("SYSCALL"))
            continue;
        rows++;
        ASSERT_GE(line.size(), 22u + 1 + 8 + 1 + 16) << line;
        if (line.starts_with("getppid ")) {
            getppid_row = true;
            char count[16];
            std::snprintf(count, sizeof(count), " %8d ", getppids);
            EXPECT_EQ(line.substr(22, 10), count) << line;
        }
    }
    EXPECT_EQ(rows, 2) << out; // -T 2
    EXPECT_TRUE(getppid_row) << out;
}

// -i INTERVAL -d DURATION: a report per interval, and syscount ends by itself.
TEST(Syscount, IntervalAndDuration) {
    ToolRun run =
        run_around({"syscount", "--json", "-i", "1", "-d", "2"}, [] {}, {.ends_itself = true});
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(run.lines.size(), 2u) << run.out;
    for (const auto& report : run.lines)
        EXPECT_FALSE(report["entries"].empty()); // the whole system makes calls every second
}

// -l lists the architecture's calls, from the kernel headers.
TEST(Syscount, ListsSyscalls) {
    auto done = run({coretrace_binary(), "syscount", "-l"});
    ASSERT_EQ(done.code, 0) << done.err;
    char expected[64];
    std::snprintf(expected, sizeof(expected), "%3d: getppid\n", __NR_getppid);
    EXPECT_NE(done.out.find(expected), std::string::npos);
    std::snprintf(expected, sizeof(expected), "%3d: read\n", __NR_read);
    EXPECT_EQ(done.out.rfind(expected, 0), 0u) << done.out.substr(0, 100);
}

TEST(Syscount, BadInput) {
    expect_refused({"syscount", "-p", "999999999"}, 1);
    auto done = run({coretrace_binary(), "syscount", "-e", "ENOSUCH"});
    EXPECT_EQ(done.code, 2);
    EXPECT_EQ(std::count(done.err.begin(), done.err.end(), '\n'), 1) << done.err;
}

TEST(Syscount, NothingRemainsAfterSigint) {
    expect_cleanup({"syscount", "-L", "-p", "1"}, SIGINT, 2);
}

TEST(Syscount, NothingRemainsAfterDuration) {
    expect_cleanup({"syscount", "-d", "1", "-P"}, 0);
}
