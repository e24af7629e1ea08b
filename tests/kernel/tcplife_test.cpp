// tcplife on the real kernel: a child connects over loopback (127.0.0.1 and ::1) to a listener
// of the test, sends bytes the test counts, receives bytes the test sends, and both close. tcplife
// must report both ends of each session: ports, addresses, owner (the child for the connecting
// side, this process, which accepted, for the other) and the bytes.
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <functional>
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

int local_port(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(reinterpret_cast<sockaddr_in&>(address).sin_port); // same offset in sin6
}

// A listening socket on loopback, port chosen by the kernel.
int listen_loopback(int family) {
    int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage address = loopback(family, 0);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(fd, 8) != 0)
        throw std::runtime_error("cannot listen on loopback");
    timeval timeout{5, 0}; // accept(2) and reads give up rather than hang the test
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    return fd;
}

void write_all(int fd, std::size_t bytes) {
    std::string data(bytes, 'x');
    std::size_t done = 0;
    while (done < bytes) {
        ssize_t n = ::write(fd, data.data() + done, bytes - done);
        if (n <= 0)
            return;
        done += n;
    }
}

std::size_t read_to_end(int fd) {
    char buffer[4096];
    std::size_t total = 0;
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof(buffer))) > 0)
        total += n;
    return total;
}

constexpr std::size_t sent_by_child = 5000, sent_by_server = 3000;

// The child's side: connect, send, half-close, read the reply to its end, close.
void client(int family, int port) {
    int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage address = loopback(family, port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
        ::_exit(3);
    write_all(fd, sent_by_child);
    ::shutdown(fd, SHUT_WR);
    if (read_to_end(fd) != sent_by_server)
        ::_exit(4);
    ::close(fd);
}

// This process's side: accept, read to the end, reply, close. Returns the peer's port.
int server(int listener) {
    sockaddr_storage peer{};
    socklen_t length = sizeof(peer);
    int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
    if (fd < 0)
        return -1;
    EXPECT_EQ(read_to_end(fd), sent_by_child);
    write_all(fd, sent_by_server);
    ::close(fd);
    return ntohs(reinterpret_cast<sockaddr_in&>(peer).sin_port);
}

struct Traced {
    std::vector<json> records;
    std::string err;
};

Traced trace(std::vector<std::string> args, Child& child, const std::function<void()>& during) {
    std::vector<std::string> argv = {coretrace_binary(), "tcplife", "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess tool(argv);
    Traced traced;
    EXPECT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    during();
    EXPECT_EQ(child.reap(), 0);
    ::usleep(100 * 1000); // the last close runs in softirq just after the child's read
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    traced.err = tool.err();
    auto lines = json_lines(tool.out());
    EXPECT_FALSE(lines.empty()) << tool.err();
    if (lines.empty())
        return traced;
    EXPECT_EQ(lines.back()["type"], "summary");
    EXPECT_EQ(lines.back()["lost"], 0);
    lines.pop_back();
    traced.records = std::move(lines);
    return traced;
}

// The bytes tcplife reports are the kernel's counters of sequence space acknowledged or received,
// which also count the SYN and FIN (one each): the data, and at most two more.
void expect_bytes(const json& value, std::size_t data) {
    EXPECT_GE(value.get<std::size_t>(), data);
    EXPECT_LE(value.get<std::size_t>(), data + 2);
}

void both_ends(int family, const char* address) {
    int listener = listen_loopback(family);
    const int port = local_port(listener);
    Child child([&] { client(family, port); }, /*exit_after=*/true);
    int child_port = -1;
    Traced traced = trace({}, child, [&] { child_port = server(listener); });
    ::close(listener);

    const json *connecting = nullptr, *accepted = nullptr;
    for (const json& record : traced.records) {
        if (record["rport"] == port && record["lport"] == child_port)
            connecting = &record;
        if (record["lport"] == port && record["rport"] == child_port)
            accepted = &record;
    }
    ASSERT_NE(connecting, nullptr) << traced.err;
    ASSERT_NE(accepted, nullptr) << traced.err;
    for (const json* record : {connecting, accepted}) {
        EXPECT_EQ((*record)["ip"], family == AF_INET ? 4 : 6);
        EXPECT_EQ((*record)["laddr"], address);
        EXPECT_EQ((*record)["raddr"], address);
        EXPECT_EQ((*record)["owner_known"], true);
        EXPECT_EQ((*record)["comm"], "kernel_tests");
        EXPECT_GT((*record)["span_ns"].get<std::int64_t>(), 0);
        EXPECT_LT((*record)["span_ns"].get<std::int64_t>(), 10'000'000'000);
    }
    EXPECT_EQ((*connecting)["pid"], child.pid());
    expect_bytes((*connecting)["tx_bytes"], sent_by_child);
    expect_bytes((*connecting)["rx_bytes"], sent_by_server);
    EXPECT_EQ((*accepted)["pid"], ::getpid());
    expect_bytes((*accepted)["tx_bytes"], sent_by_server);
    expect_bytes((*accepted)["rx_bytes"], sent_by_child);
}

} // namespace

TEST(Tcplife, BothEndsOfAnIPv4Session) {
    both_ends(AF_INET, "127.0.0.1");
}

TEST(Tcplife, BothEndsOfAnIPv6Session) {
    both_ends(AF_INET6, "::1");
}

// -p keeps the sessions the process owns: the child's end only.
TEST(Tcplife, PidFilterKeepsTheOwnersSessions) {
    int listener = listen_loopback(AF_INET);
    const int port = local_port(listener);
    Child child([&] { client(AF_INET, port); }, /*exit_after=*/true);
    int child_port = -1;
    Traced traced =
        trace({"-p", std::to_string(child.pid())}, child, [&] { child_port = server(listener); });
    ::close(listener);
    ASSERT_EQ(traced.records.size(), 1u) << traced.err;
    EXPECT_EQ(traced.records[0]["pid"], child.pid());
    EXPECT_EQ(traced.records[0]["lport"], child_port);
    EXPECT_EQ(traced.records[0]["rport"], port);
}

TEST(Tcplife, BadInputAndCleanup) {
    auto missing = run({coretrace_binary(), "tcplife", "-p", "999999"});
    EXPECT_EQ(missing.code, 1) << missing.err;
    EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
    auto ports = run({coretrace_binary(), "tcplife", "-L", "0"});
    EXPECT_EQ(ports.code, 2) << ports.err;

    Subprocess tool({coretrace_binary(), "tcplife"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 3u);
    tool.signal(SIGTERM);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}
