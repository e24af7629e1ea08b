// tcpconnect on the real kernel: a child connects over loopback (127.0.0.1 and ::1) to listeners
// the test opened; tcpconnect, filtering by the child's PID in the kernel, must report exactly
// those connections, with the ports and addresses the test sees from the other end.
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"
#include "tool_run.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

// A TCP listener on the loopback address of `family`, on a port the kernel picks.
class LoopbackListener {
  public:
    explicit LoopbackListener(int family) : family_(family) {
        fd_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_storage address = loopback(family, 0);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
            ::listen(fd_, 16) != 0)
            throw std::runtime_error("cannot listen on loopback");
        socklen_t length = sizeof(address);
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
        port_ = port_of(address);
    }
    ~LoopbackListener() { ::close(fd_); }
    int port() const { return port_; }
    // Accepts one queued connection and returns the peer's (the connecting side's) port.
    int accept_peer_port() const {
        sockaddr_storage peer{};
        socklen_t length = sizeof(peer);
        int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
        if (fd < 0)
            return -1;
        ::close(fd);
        return port_of(peer);
    }

    static sockaddr_storage loopback(int family, int port) {
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
    static int port_of(const sockaddr_storage& address) {
        return address.ss_family == AF_INET
                   ? ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port)
                   : ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
    }

  private:
    int family_, fd_ = -1, port_ = 0;
};

// Connects (blocking) to the loopback `port` of `family` and closes; in the calling process.
void connect_once(int family, int port) {
    int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage address = LoopbackListener::loopback(family, port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
        ::_exit(3);
    ::close(fd);
}

struct Traced {
    std::vector<json> records;
    json summary;
    std::string err;
};

Traced trace(Child& child, std::vector<std::string> args) {
    std::vector<std::string> argv = {coretrace_binary(), "tcpconnect", "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess tool(argv);
    Traced traced;
    EXPECT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    EXPECT_EQ(child.reap(), 0);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    traced.err = tool.err();
    auto lines = json_lines(tool.out());
    EXPECT_FALSE(lines.empty()) << tool.err();
    if (lines.empty())
        return traced;
    traced.summary = lines.back();
    lines.pop_back();
    traced.records = std::move(lines);
    EXPECT_EQ(traced.summary["type"], "summary");
    EXPECT_EQ(traced.summary["lost"], 0);
    return traced;
}

} // namespace

// One connection to 127.0.0.1 and one to ::1, each with its ports, addresses, pid and comm.
TEST(Tcpconnect, SeesLoopbackConnectsIPv4AndIPv6) {
    LoopbackListener v4(AF_INET), v6(AF_INET6);
    Child child(
        [&] {
            connect_once(AF_INET, v4.port());
            connect_once(AF_INET6, v6.port());
        },
        /*exit_after=*/true);
    Traced traced = trace(child, {"-p", std::to_string(child.pid())});
    const int sport4 = v4.accept_peer_port(), sport6 = v6.accept_peer_port();

    ASSERT_EQ(traced.records.size(), 2u) << traced.err;
    const json& r4 = traced.records[0];
    const json& r6 = traced.records[1];
    EXPECT_EQ(r4["ip"], 4);
    EXPECT_EQ(r4["saddr"], "127.0.0.1");
    EXPECT_EQ(r4["daddr"], "127.0.0.1");
    EXPECT_EQ(r4["dport"], v4.port());
    EXPECT_EQ(r4["sport"], sport4);
    EXPECT_EQ(r6["ip"], 6);
    EXPECT_EQ(r6["saddr"], "::1");
    EXPECT_EQ(r6["daddr"], "::1");
    EXPECT_EQ(r6["dport"], v6.port());
    EXPECT_EQ(r6["sport"], sport6);
    for (const json& record : traced.records) {
        EXPECT_EQ(record["pid"], child.pid());
        EXPECT_EQ(record["tid"], child.pid());
        EXPECT_EQ(record["uid"], ::getuid());
        EXPECT_EQ(record["comm"], "kernel_tests");
        EXPECT_GT(record["ts_ns"].get<std::int64_t>(), 0);
    }
}

// -P keeps only the listed destination ports (in the kernel): of three connects to two ports,
// the two to the listed port are reported.
TEST(Tcpconnect, PortFilter) {
    LoopbackListener wanted(AF_INET), other(AF_INET);
    Child child(
        [&] {
            connect_once(AF_INET, wanted.port());
            connect_once(AF_INET, other.port());
            connect_once(AF_INET, wanted.port());
        },
        /*exit_after=*/true);
    Traced traced = trace(
        child, {"-P", std::to_string(wanted.port()) + ",1", "-p", std::to_string(child.pid())});
    ASSERT_EQ(traced.records.size(), 2u) << traced.err;
    for (const json& record : traced.records)
        EXPECT_EQ(record["dport"], wanted.port());
}

// -c counts connects per flow and prints them at the end, before the summary.
TEST(Tcpconnect, CountMode) {
    LoopbackListener listener(AF_INET6);
    Child child(
        [&] {
            for (int i = 0; i < 3; i++)
                connect_once(AF_INET6, listener.port());
        },
        /*exit_after=*/true);
    Traced traced = trace(child, {"-c", "-p", std::to_string(child.pid())});
    ASSERT_EQ(traced.records.size(), 1u) << traced.err;
    EXPECT_EQ(traced.records[0]["type"], "count");
    EXPECT_EQ(traced.records[0]["laddr"], "::1");
    EXPECT_EQ(traced.records[0]["raddr"], "::1");
    EXPECT_EQ(traced.records[0]["rport"], listener.port());
    EXPECT_EQ(traced.records[0]["connects"], 3);
    EXPECT_EQ(traced.summary["events"], 3);
}

// Bad input: one line on stderr and a non-zero exit, before anything loads.
TEST(Tcpconnect, BadInput) {
    auto missing = run({coretrace_binary(), "tcpconnect", "-p", "999999"});
    EXPECT_EQ(missing.code, 1) << missing.err;
    EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
    auto port = run({coretrace_binary(), "tcpconnect", "-P", "80,70000"});
    EXPECT_EQ(port.code, 2) << port.err;
    EXPECT_NE(port.err.find("70000"), std::string::npos) << port.err;
}

// Nothing of the tool remains after SIGINT.
TEST(Tcpconnect, LeavesNoBpfObjects) {
    Subprocess tool({coretrace_binary(), "tcpconnect"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 2u);
    EXPECT_GE(held.links.size(), 2u);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}

// -v names the hooks: where the kernel refuses fentry (this one), the fexit candidates are passed
// over with the library's reason and inet_sock_set_state + connect(2)'s exit are used; where it
// allows them, both fexit programs are used and no tracepoint. Either way the connect is seen.
TEST(Tcpconnect, VerboseShowsHookPath) {
    LoopbackListener listener(AF_INET);
    Child child([&] { connect_once(AF_INET, listener.port()); }, /*exit_after=*/true);
    Traced traced = trace(child, {"-v", "-p", std::to_string(child.pid())});
    const int sport = listener.accept_peer_port();
    const std::string& err = traced.err;
    if (err.find("TCP connect over IPv4: using fexit/tcp_v4_connect") != std::string::npos) {
        EXPECT_NE(err.find("TCP connect over IPv6: using fexit/tcp_v6_connect"), std::string::npos)
            << err;
        EXPECT_EQ(err.find("using tp/"), std::string::npos) << err;
    } else {
        expect_hook_choice(err, "TCP connect over IPv4", {"fexit/tcp_v4_connect"},
                           "tp/sock/inet_sock_set_state");
        expect_hook_choice(err, "TCP connect over IPv6", {"fexit/tcp_v6_connect"},
                           "tp/sock/inet_sock_set_state");
        EXPECT_NE(err.find("connect(2) exit: using tp/syscalls/sys_exit_connect"),
                  std::string::npos)
            << err;
    }
    ASSERT_EQ(traced.records.size(), 1u) << err;
    EXPECT_EQ(traced.records[0]["pid"], child.pid());
    EXPECT_EQ(traced.records[0]["dport"], listener.port());
    EXPECT_EQ(traced.records[0]["sport"], sport);
}
