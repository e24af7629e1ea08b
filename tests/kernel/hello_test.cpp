// hello on the real kernel: the exact number of write(2) calls a child makes, each with its
// bpf_printk line picked out of trace_pipe.
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <regex>
#include <unistd.h>

using namespace coretrace::test;

namespace {
// The child's whole workload: exactly `n` write(2) calls, then it exits.
void write_to_null(int n) {
    int fd = ::open("/dev/null", O_WRONLY);
    for (int i = 0; i < n; i++)
        if (::write(fd, "x", 1) != 1)
            ::_exit(2);
}
} // namespace

TEST(Hello, CountsExactlyTheWritesOfAChild) {
    constexpr int writes = 37;
    Child child([] { write_to_null(writes); }, /*exit_after=*/true);
    Subprocess hello({coretrace_binary(), "hello", "-p", std::to_string(child.pid()), "--json"});
    ASSERT_TRUE(hello.wait_for("Hit Ctrl-C")) << hello.err();
    child.go();
    ASSERT_EQ(child.reap(), 0);
    // hello ends by itself when the traced process exits.
    ASSERT_EQ(hello.wait(10s), 0) << hello.err();

    auto lines = json_lines(hello.out());
    ASSERT_FALSE(lines.empty());
    const auto& summary = lines.back();
    EXPECT_EQ(summary["type"], "summary");
    EXPECT_EQ(summary["writes"], writes);
    EXPECT_EQ(summary["pid"], child.pid());
    EXPECT_EQ(summary["trace_lines_shown"], writes);
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(writes + 1));
    for (int i = 0; i < writes; i++) {
        EXPECT_EQ(lines[i]["type"], "write");
        EXPECT_EQ(lines[i]["write_number"], i + 1);
        EXPECT_EQ(lines[i]["pid"], child.pid());
    }
}

TEST(Hello, TextModeShowsTraceLinesAndTotal) {
    constexpr int writes = 5;
    Child child([] { write_to_null(writes); }, /*exit_after=*/true);
    Subprocess hello({coretrace_binary(), "hello", "-p", std::to_string(child.pid())});
    ASSERT_TRUE(hello.wait_for("Hit Ctrl-C")) << hello.err();
    child.go();
    ASSERT_EQ(child.reap(), 0);
    ASSERT_EQ(hello.wait(10s), 0) << hello.err();
    EXPECT_NE(hello.out().find("bpf_trace_printk: coretrace-hello["), std::string::npos);
    EXPECT_NE(hello.out().find("write #5 by PID " + std::to_string(child.pid())), std::string::npos)
        << hello.out();
    EXPECT_NE(hello.out().find("\n5 write(2) calls by PID " + std::to_string(child.pid()) + "\n"),
              std::string::npos)
        << hello.out();
}

TEST(Hello, WithoutPidTracesItsOwnDotsAndStopsAfterDuration) {
    Subprocess hello({coretrace_binary(), "hello", "-d", "2.5"});
    ASSERT_EQ(hello.wait(15s), 0) << hello.err();
    // One dot at start, then one per second: 3 in 2.5 s.
    EXPECT_EQ(std::count(hello.err().begin(), hello.err().end(), '.'), 3) << hello.err();
    // Every write of the traced thread is counted and shown. (Exactly the 3 dots in a plain
    // build; a sanitizer runtime adds writes of its own when the thread exits.)
    std::smatch total;
    ASSERT_TRUE(std::regex_search(
        hello.out(), total,
        std::regex("\n(\\d+) write\\(2\\) calls by PID " + std::to_string(hello.pid()) + "\n")))
        << hello.out();
    long writes = std::stol(total[1]);
    EXPECT_GE(writes, 3);
    long shown = 0;
    for (std::size_t at = 0;
         (at = hello.out().find("bpf_trace_printk: coretrace-hello[", at)) != std::string::npos;
         at++)
        shown++;
    EXPECT_EQ(shown, writes) << hello.out();
}
