// tcpstates on the real kernel: a child connects over loopback to a listener of the test, then
// both close. The connecting socket's states, and those of the accepted one, must be reported in
// order, with the ports, addresses, and the owner tcpstates documents.
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

std::vector<std::string> states(const std::vector<json>& records) {
    std::vector<std::string> text;
    for (const json& record : records)
        text.push_back(record["oldstate"].get<std::string>() + "->" +
                       record["newstate"].get<std::string>());
    return text;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

void session_states(int family, const char* address) {
    int listener = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage bound = loopback(family, 0);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&bound), sizeof(bound)), 0);
    ASSERT_EQ(::listen(listener, 8), 0);
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
            char byte;
            if (::read(fd, &byte, 1) != 0) // until the server closes
                ::_exit(4);
            ::close(fd);
        },
        /*exit_after=*/true);

    // Two tracers: one for the connecting side (remote port = the listener's), one for the
    // accepted side (local port = the listener's).
    Subprocess remote({coretrace_binary(), "tcpstates", "--json", "-D", std::to_string(port)});
    Subprocess local({coretrace_binary(), "tcpstates", "--json", "-L", std::to_string(port)});
    ASSERT_TRUE(remote.wait_for("Hit Ctrl-C")) << remote.err();
    ASSERT_TRUE(local.wait_for("Hit Ctrl-C")) << local.err();
    child.go();
    sockaddr_storage peer{};
    length = sizeof(peer);
    int accepted = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
    ASSERT_GE(accepted, 0);
    const int child_port = port_of(peer);
    ::close(accepted); // server closes first: FIN_WAIT1 here, CLOSE_WAIT -> LAST_ACK in child
    ASSERT_EQ(child.reap(), 0);
    ::close(listener);
    ::usleep(100 * 1000);
    for (Subprocess* tool : {&remote, &local}) {
        tool->signal(SIGINT);
        ASSERT_EQ(tool->wait(20s), 0) << tool->err();
    }
    auto connecting = json_lines(remote.out());
    auto passive = json_lines(local.out());
    ASSERT_FALSE(connecting.empty());
    ASSERT_FALSE(passive.empty());
    EXPECT_EQ(connecting.back()["type"], "summary");
    EXPECT_EQ(connecting.back()["lost"], 0);
    connecting.pop_back();
    passive.pop_back();

    // The connecting socket: from SYN_SENT to CLOSE, owned by the child throughout (its
    // connect was seen), same socket address, ports known after SYN_SENT.
    const auto seen = states(connecting);
    ASSERT_GE(connecting.size(), 4u) << remote.out();
    EXPECT_EQ(seen.front(), "CLOSE->SYN_SENT") << remote.out();
    EXPECT_EQ(seen[1], "SYN_SENT->ESTABLISHED") << remote.out();
    EXPECT_TRUE(contains(seen, "ESTABLISHED->CLOSE_WAIT")) << remote.out();
    EXPECT_TRUE(contains(seen, "CLOSE_WAIT->LAST_ACK")) << remote.out();
    EXPECT_EQ(seen.back(), "LAST_ACK->CLOSE") << remote.out();
    for (const json& record : connecting) {
        EXPECT_EQ(record["skaddr"], connecting[0]["skaddr"]);
        EXPECT_EQ(record["pid"], child.pid());
        EXPECT_EQ(record["owner_known"], true);
        EXPECT_EQ(record["comm"], "kernel_tests");
        EXPECT_EQ(record["ip"], family == AF_INET ? 4 : 6);
        EXPECT_EQ(record["raddr"], address);
        EXPECT_EQ(record["rport"], port);
        if (record["oldstate"] != "CLOSE") {
            EXPECT_EQ(record["lport"], child_port);
        }
    }
    // The time in ESTABLISHED is measured (non-zero) for the change that leaves it.
    for (const json& record : connecting)
        if (record["oldstate"] == "ESTABLISHED") {
            EXPECT_GT(record["delta_ns"].get<std::uint64_t>(), 0u);
        }

    // The accepted socket: its changes after accept(2) are this process's.
    const auto passive_seen = states(passive);
    EXPECT_TRUE(contains(passive_seen, "ESTABLISHED->FIN_WAIT1")) << local.out();
    for (const json& record : passive) {
        EXPECT_EQ(record["laddr"], address);
        EXPECT_EQ(record["lport"], port);
        if (record["oldstate"] == "ESTABLISHED" && record["newstate"] == "FIN_WAIT1") {
            EXPECT_EQ(record["pid"], ::getpid());
            EXPECT_EQ(record["owner_known"], true);
            EXPECT_EQ(record["rport"], child_port);
        }
    }
}

} // namespace

TEST(Tcpstates, ConnectingAndAcceptedSocketsIPv4) {
    session_states(AF_INET, "127.0.0.1");
}

TEST(Tcpstates, ConnectingAndAcceptedSocketsIPv6) {
    session_states(AF_INET6, "::1");
}

TEST(Tcpstates, BadInputAndCleanup) {
    auto ports = run({coretrace_binary(), "tcpstates", "-D", "80,x"});
    EXPECT_EQ(ports.code, 2) << ports.err;
    EXPECT_EQ(std::count(ports.err.begin(), ports.err.end(), '\n'), 1) << ports.err;

    Subprocess tool({coretrace_binary(), "tcpstates"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 3u);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}
