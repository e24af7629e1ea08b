// tcptop on the real kernel: a child connects over loopback to a listener of the test, sends a
// number of bytes and reads the test's reply; tcptop, filtering by the child's PID in the kernel,
// must count exactly those bytes on the child's connection.
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"
#include "tool_run.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

sockaddr_storage loopback(int family, int port) {
    sockaddr_storage address{};
    if (family == AF_INET) {
        auto* in = reinterpret_cast<sockaddr_in*>(&address);
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        in6->sin6_addr = in6addr_loopback;
    }
    return address;
}

int port_of(const sockaddr_storage& address) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port); // same in sin6
}

bool write_all(int fd, std::size_t bytes) {
    std::string data(bytes, 'y');
    for (std::size_t done = 0; done < bytes;) {
        ssize_t n = ::write(fd, data.data() + done, bytes - done);
        if (n <= 0)
            return false;
        done += n;
    }
    return true;
}

std::size_t read_exactly(int fd, std::size_t bytes) {
    char buffer[8192];
    std::size_t total = 0;
    while (total < bytes) {
        ssize_t n = ::read(fd, buffer, std::min(sizeof(buffer), bytes - total));
        if (n <= 0)
            break;
        total += n;
    }
    return total;
}

constexpr std::size_t sent = 300000, replied = 70000;

// Runs tcptop --json -p CHILD, plus `extra`, during the exchange and checks what it counted;
// `err` gets tcptop's stderr. (A void function: gtest's ASSERTs return from it.)
void exchange_into(int family, const char* address, const std::vector<std::string>& extra,
                   std::string& err) {
    int listener = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage bound = loopback(family, 0);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&bound), sizeof(bound)), 0);
    ASSERT_EQ(::listen(listener, 4), 0);
    socklen_t length = sizeof(bound);
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &length);
    const int port = port_of(bound);
    timeval timeout{5, 0};
    ::setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));

    Child child(
        [&] {
            int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_storage target = loopback(family, port);
            if (::connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0)
                ::_exit(3);
            if (!write_all(fd, sent) || read_exactly(fd, replied) != replied)
                ::_exit(4);
            ::close(fd);
        },
        /*exit_after=*/true);
    std::vector<std::string> argv = {coretrace_binary(), "tcptop", "--json", "-p",
                                     std::to_string(child.pid())};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Subprocess tool(argv);
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    sockaddr_storage peer{};
    length = sizeof(peer);
    int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
    ASSERT_GE(fd, 0);
    const int child_port = port_of(peer);
    EXPECT_EQ(read_exactly(fd, sent), sent);
    EXPECT_TRUE(write_all(fd, replied));
    ASSERT_EQ(child.reap(), 0);
    ::close(fd);
    ::close(listener);
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(20s), 0) << tool.err();
    err = tool.err();

    // Sum the child's connection over every interval report (the last comes at SIGINT).
    std::uint64_t tx = 0, rx = 0;
    std::size_t rows = 0;
    for (const json& report : json_lines(tool.out())) {
        ASSERT_TRUE(report.contains("connections")) << report;
        EXPECT_EQ(report["not_counted"], 0);
        for (const json& row : report["connections"]) {
            EXPECT_EQ(row["pid"], child.pid());
            EXPECT_EQ(row["comm"], "kernel_tests");
            EXPECT_EQ(row["ip"], family == AF_INET ? 4 : 6);
            EXPECT_EQ(row["laddr"], address);
            EXPECT_EQ(row["raddr"], address);
            EXPECT_EQ(row["lport"], child_port);
            EXPECT_EQ(row["rport"], port);
            tx += row["tx_bytes"].get<std::uint64_t>();
            rx += row["rx_bytes"].get<std::uint64_t>();
            rows++;
        }
    }
    EXPECT_GE(rows, 1u) << tool.out();
    EXPECT_EQ(tx, sent);
    EXPECT_EQ(rx, replied);
}

void exchange(int family, const char* address) {
    std::string err;
    exchange_into(family, address, {}, err);
}

} // namespace

TEST(Tcptop, CountsTheChildsBytesIPv4) {
    exchange(AF_INET, "127.0.0.1");
}

TEST(Tcptop, CountsTheChildsBytesIPv6) {
    exchange(AF_INET6, "::1");
}

// Text output: the header, without clearing the screen (-C) or the load
// line (-S), one report (interval 1, count 1).
// Here (no fentry/fexit, no kprobes) -v shows libbpf-tools' functions passed over with the
// library's reason and the tracepoints chosen, and the bytes are still counted exactly. On a
// kernel that allows the functions (Debian 12's 6.1) they are chosen: skipped here.
TEST(Tcptop, VerboseShowsTheFunctionHooksPassedOver) {
    std::string err;
    exchange_into(AF_INET, "127.0.0.1", {"-v"}, err);
    if (function_hook_chosen(err))
        GTEST_SKIP() << "this kernel allows fentry or kprobes: the tracepoints are not used";
    expect_hook_choice(err, "socket send (bytes)", {"fexit/tcp_sendmsg", "kprobe/tcp_sendmsg"},
                       "tp/sock/sock_send_length");
    expect_hook_choice(err, "socket receive (bytes)",
                       {"fentry/tcp_cleanup_rbuf", "kprobe/tcp_cleanup_rbuf"},
                       "tp/sock/sock_recv_length");
}

TEST(Tcptop, TextOutputAndCount) {
    auto result = run({coretrace_binary(), "tcptop", "-C", "-S", "1", "1"});
    ASSERT_EQ(result.code, 0) << result.err;
    EXPECT_NE(result.out.find("\nPID "), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("RX_KB"), std::string::npos);
    EXPECT_EQ(result.out.find("loadavg"), std::string::npos);
    EXPECT_EQ(result.out.find("\033[2J"), std::string::npos);
}

TEST(Tcptop, BadInputAndCleanup) {
    auto missing = run({coretrace_binary(), "tcptop", "-p", "999999"});
    EXPECT_EQ(missing.code, 1) << missing.err;
    EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
    auto sort = run({coretrace_binary(), "tcptop", "-s", "bytes"});
    EXPECT_EQ(sort.code, 2) << sort.err;

    Subprocess tool({coretrace_binary(), "tcptop"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 2u);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}
