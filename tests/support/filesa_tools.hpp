// Test support for the file tools (filelife, vfsstat, filetop): a fresh directory per test, and
// running an interval or event tool with --json around a child's work.
#pragma once

#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <sys/vfs.h>
#include <unistd.h>
#include <vector>

namespace coretrace::test {

// A directory no other process uses, under `parent`, removed with everything in it.
class ScratchDir {
  public:
    explicit ScratchDir(const std::string& tool, const std::filesystem::path& parent =
                                                     std::filesystem::temp_directory_path()) {
        static std::atomic<int> serial{0};
        path_ = parent / ("coretrace-" + tool + "-" + std::to_string(::getpid()) + "-" +
                          std::to_string(serial++));
        std::filesystem::create_directories(path_);
    }
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    std::string operator/(const std::string& name) const { return path_ / name; }
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// The magic number of the file system holding `path` (statfs(2) f_type), 0 if unknown.
inline long filesystem_magic(const std::filesystem::path& path) {
    struct statfs fs {};
    return ::statfs(path.c_str(), &fs) == 0 ? static_cast<long>(fs.f_type) : 0;
}
constexpr long kExt4Magic = 0xEF53, kTmpfsMagic = 0x01021994;

struct ToolRun {
    std::vector<nlohmann::json> lines; // every JSON line, in order
    std::string out, err;
    int code = -1;
};

// Runs `coretrace <args...>`, starts `children` once its banner is out, waits for them to exit,
// stops the tool with SIGINT and returns its output (parsed as JSON Lines when args has --json).
inline ToolRun run_around(const std::vector<std::string>& args, std::vector<Child*> children) {
    std::vector<std::string> argv = {coretrace_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess tool(argv);
    ToolRun result;
    EXPECT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    for (Child* child : children) {
        child->go();
        EXPECT_EQ(child->reap(), 0);
    }
    tool.signal(SIGINT);
    result.code = tool.wait(20s);
    EXPECT_EQ(result.code, 0) << tool.err();
    result.out = tool.out();
    result.err = tool.err();
    if (std::find(args.begin(), args.end(), "--json") != args.end())
        result.lines = json_lines(result.out);
    return result;
}

// Starts the tool, checks it holds BPF programs, maps and links, stops it (SIGINT, or waits for
// it to end by itself when `signo` is 0) and checks none of them remains.
inline void expect_cleanup(const std::vector<std::string>& args, int signo) {
    std::vector<std::string> argv = {coretrace_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess tool(argv);
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 2u);
    EXPECT_GE(held.maps.size(), 1u);
    EXPECT_GE(held.links.size(), 2u);
    if (signo)
        tool.signal(signo);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}

// A bad argument: exit status `code`, one line on stderr starting with "<tool>: ", no banner.
inline void expect_refused(const std::vector<std::string>& args, int code) {
    std::vector<std::string> argv = {coretrace_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    Completed result = run(argv, 20s);
    EXPECT_EQ(result.code, code) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_TRUE(result.err.starts_with(args[0] + ": ")) << result.err;
}

} // namespace coretrace::test
