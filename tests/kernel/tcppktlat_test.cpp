// tcppktlat on the real kernel: the test sends data to a child over loopback while the child
// sleeps 150 ms before reading it; tcppktlat, filtering by the child's PID in the kernel, must
// report the child's pick-up with a latency of at least 100 ms, and its connection's ports.
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"

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

struct Reading {
    std::vector<json> records;
    int port = 0, child_port = 0;
    pid_t child = 0;
};

Reading late_reader(int family, std::vector<std::string> args) {
    Reading result;
    int listener = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage bound = loopback(family, 0);
    EXPECT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&bound), sizeof(bound)), 0);
    EXPECT_EQ(::listen(listener, 4), 0);
    socklen_t length = sizeof(bound);
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &length);
    result.port = port_of(bound);
    timeval timeout{5, 0};
    ::setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));

    Child child(
        [&] {
            int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_storage target = loopback(family, result.port);
            if (::connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0)
                ::_exit(3);
            ::usleep(150 * 1000); // the data waits in the receive queue
            if (read_exactly(fd, 1000) != 1000)
                ::_exit(4);
            ::close(fd);
        },
        /*exit_after=*/true);
    result.child = child.pid();
    std::vector<std::string> argv = {coretrace_binary(), "tcppktlat", "--json", "-p",
                                     std::to_string(child.pid())};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess tool(argv);
    EXPECT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    sockaddr_storage peer{};
    length = sizeof(peer);
    int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
    EXPECT_GE(fd, 0);
    result.child_port = port_of(peer);
    EXPECT_TRUE(write_all(fd, 1000));
    EXPECT_EQ(child.reap(), 0);
    ::close(fd);
    ::close(listener);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    auto lines = json_lines(tool.out());
    EXPECT_FALSE(lines.empty()) << tool.err();
    if (lines.empty())
        return result;
    EXPECT_EQ(lines.back()["type"], "summary");
    EXPECT_EQ(lines.back()["lost"], 0);
    lines.pop_back();
    result.records = std::move(lines);
    return result;
}

void check(int family, const char* address) {
    Reading reading = late_reader(family, {});
    ASSERT_GE(reading.records.size(), 1u);
    const json& first = reading.records[0];
    EXPECT_EQ(first["pid"], reading.child);
    EXPECT_EQ(first["tid"], reading.child);
    EXPECT_EQ(first["comm"], "kernel_tests");
    EXPECT_EQ(first["ip"], family == AF_INET ? 4 : 6);
    EXPECT_EQ(first["laddr"], address);
    EXPECT_EQ(first["raddr"], address);
    EXPECT_EQ(first["lport"], reading.child_port);
    EXPECT_EQ(first["rport"], reading.port);
    EXPECT_GE(first["latency_ns"].get<std::uint64_t>(), 100'000'000u);
    EXPECT_LT(first["latency_ns"].get<std::uint64_t>(), 5'000'000'000u);
}

} // namespace

TEST(Tcppktlat, LateReaderIPv4) {
    check(AF_INET, "127.0.0.1");
}

TEST(Tcppktlat, LateReaderIPv6) {
    check(AF_INET6, "::1");
}

// min_us: nothing waits 10 s here.
TEST(Tcppktlat, MinimumLatency) {
    Reading reading = late_reader(AF_INET, {"10000000"});
    EXPECT_TRUE(reading.records.empty());
}

TEST(Tcppktlat, BadInputAndCleanup) {
    auto missing = run({coretrace_binary(), "tcppktlat", "-p", "999999"});
    EXPECT_EQ(missing.code, 1) << missing.err;
    EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;

    Subprocess tool({coretrace_binary(), "tcppktlat"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 3u);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}
