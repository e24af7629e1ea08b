// Test support shared by the syscount, statsnoop, mountsnoop and syncsnoop tests: run a tool
// with --json around a Child's work, split its JSON Lines into records and summary, check that
// nothing of the tool remains after it exits, and a temporary directory of the test's own.
#pragma once

#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <atomic>
#include <csignal>
#include <filesystem>
#include <functional>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>
#include <vector>

namespace coretrace::test {

// A directory no other process uses: named after the test process and a serial number.
class ScratchDir {
  public:
    explicit ScratchDir(const std::string& tag) {
        static std::atomic<int> serial{0};
        path_ = std::filesystem::temp_directory_path() /
                ("coretrace-" + tag + "-" + std::to_string(::getpid()) + "-" +
                 std::to_string(serial++));
        std::filesystem::create_directories(path_);
    }
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    std::string path(const std::string& name = "") const {
        return name.empty() ? path_.string() : (path_ / name).string();
    }

  private:
    std::filesystem::path path_;
};

// What a tool printed: its output, and for --json runs the output's lines parsed.
struct JsonRun {
    std::vector<nlohmann::json> lines;
    std::string err;
    int code = -1;
    std::string out;
};

// Runs `coretrace ARGS...` (`before_exec` runs in the tool's process before exec), lets `child`
// do its work once the tool is attached, then stops the tool with SIGINT.
inline JsonRun run_around(std::vector<std::string> args, Child& child,
                          std::function<void()> before_exec = {}) {
    args.insert(args.begin(), coretrace_binary());
    Subprocess tool(args, std::move(before_exec));
    JsonRun run;
    EXPECT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    EXPECT_TRUE(child.wait_done());
    tool.signal(SIGINT);
    run.code = tool.wait(20s);
    EXPECT_EQ(run.code, 0) << tool.err();
    run.err = tool.err();
    run.out = tool.out();
    return run;
}

// The same with `coretrace TOOL --json ARGS...`, its output parsed as JSON Lines.
inline JsonRun run_json_around(const std::string& tool_name, std::vector<std::string> args,
                               Child& child, std::function<void()> before_exec = {}) {
    args.insert(args.begin(), {tool_name, "--json"});
    JsonRun run = run_around(std::move(args), child, std::move(before_exec));
    run.lines = json_lines(run.out);
    return run;
}

// An event tool's records, after checking its summary: last line, nothing lost, and the count
// of records printed.
inline std::vector<nlohmann::json> event_records(const JsonRun& run) {
    std::vector<nlohmann::json> records = run.lines;
    EXPECT_FALSE(records.empty()) << run.err;
    if (records.empty())
        return records;
    const nlohmann::json summary = records.back();
    records.pop_back();
    EXPECT_EQ(summary["type"], "summary");
    EXPECT_EQ(summary["lost"], 0);
    EXPECT_EQ(summary["events"], records.size());
    EXPECT_NE(run.err.find("\n0 events lost\n"), std::string::npos) << run.err;
    return records;
}

// Starts `coretrace ARGS...`, notes the BPF objects it holds once attached, ends it (with
// `signo`, or by itself when 0) and checks that none of those objects remains.
inline void expect_nothing_remains(const std::vector<std::string>& args, int signo,
                                   std::size_t min_programs = 1) {
    std::vector<std::string> argv = {coretrace_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess tool(argv);
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), min_programs);
    EXPECT_GE(held.maps.size(), 1u);
    EXPECT_GE(held.links.size(), min_programs);
    if (signo)
        tool.signal(signo);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    BpfObjects left = still_loaded(held, std::chrono::seconds(3));
    EXPECT_TRUE(left.empty()) << left.progs.size() << " programs, " << left.maps.size() << " maps, "
                              << left.links.size() << " links left";
}

// A bad -p: exit status 1 and exactly one line on stderr, nothing on stdout.
inline void expect_bad_pid_refused(const std::string& tool_name) {
    auto done = run({coretrace_binary(), tool_name, "-p", "999999999"});
    EXPECT_EQ(done.code, 1) << done.err;
    EXPECT_TRUE(done.out.empty()) << done.out;
    EXPECT_EQ(std::count(done.err.begin(), done.err.end(), '\n'), 1) << done.err;
    EXPECT_EQ(done.err.rfind(tool_name + ": ", 0), 0u) << done.err;
}

} // namespace coretrace::test
