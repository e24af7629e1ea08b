// Test support for the file system tools (fsslower, fsdist, cachestat, readahead): files on the
// root file system (ext4 on the development VMs) under a directory of this test process, pages
// dropped from the page cache for one file only (never globally), and running a tool around a
// child's work.
#pragma once

#include "json_lines.hpp"
#include "subprocess.hpp"

#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <sys/statfs.h>
#include <unistd.h>
#include <vector>

namespace coretrace::test {

// A directory under /var/tmp (not tmpfs), removed with its files at the end.
class FsTestDir {
  public:
    explicit FsTestDir(const std::string& tool) {
        static std::atomic<int> serial{0};
        path_ = std::filesystem::path("/var/tmp") /
                ("coretrace-" + tool + "-" + std::to_string(::getpid()) + "-" +
                 std::to_string(serial++));
        std::filesystem::create_directories(path_);
    }
    ~FsTestDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    std::string path(const std::string& name) const { return path_ / name; }
    // The file system type of the directory ("ext4", ...), from statfs's magic number.
    std::string fs_type() const {
        struct statfs st {};
        if (::statfs(path_.c_str(), &st) != 0)
            return "";
        switch (static_cast<unsigned long>(st.f_type)) {
        case 0xEF53:
            return "ext4"; // also ext2/ext3, which the ext4 driver serves as ext4
        case 0x58465342:
            return "xfs";
        case 0x9123683E:
            return "btrfs";
        }
        return "";
    }

  private:
    std::filesystem::path path_;
};

// Writes `bytes` of data to `path`, fsyncs it, then drops its pages from the page cache
// (POSIX_FADV_DONTNEED on this file only). Returns false on any failure.
inline bool write_uncached(const std::string& path, std::size_t bytes) {
    int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    std::vector<char> block(1 << 16, 'x');
    bool ok = true;
    for (std::size_t done = 0; ok && done < bytes;) {
        std::size_t n = std::min(block.size(), bytes - done);
        ok = ::write(fd, block.data(), n) == static_cast<ssize_t>(n);
        done += n;
    }
    ok = ok && ::fsync(fd) == 0 && ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
    ::close(fd);
    return ok;
}

// Reads all of `path` with read(2) in `chunk`-byte reads; returns the bytes read.
inline std::size_t read_all(const std::string& path, std::size_t chunk = 1 << 17) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    std::vector<char> buffer(chunk);
    std::size_t total = 0;
    for (ssize_t n; (n = ::read(fd, buffer.data(), buffer.size())) > 0;)
        total += static_cast<std::size_t>(n);
    ::close(fd);
    return total;
}

struct ToolRun {
    std::vector<nlohmann::json> lines;
    std::string err;
    int code = -1;
};

// Runs `coretrace <args>` until its banner, lets each child in turn do its work (waiting for it
// to exit), then stops the tool with SIGINT and parses its JSON Lines.
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
    result.err = tool.err();
    result.lines = json_lines(tool.out());
    return result;
}

} // namespace coretrace::test
