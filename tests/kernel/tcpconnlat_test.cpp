// tcpconnlat on the real kernel: a child connects over loopback (127.0.0.1 and ::1) to listeners
// the test opened; tcpconnlat, filtering by the child's PID in the kernel, must report each
// connect with its ports, addresses, the child as its task, and a plausible latency.
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

std::vector<json> trace(Child& child, std::vector<std::string> args) {
    std::vector<std::string> argv = {coretrace_binary(), "tcpconnlat", "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess tool(argv);
    EXPECT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    EXPECT_EQ(child.reap(), 0);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    auto lines = json_lines(tool.out());
    EXPECT_FALSE(lines.empty()) << tool.err();
    if (lines.empty())
        return lines;
    EXPECT_EQ(lines.back()["type"], "summary");
    EXPECT_EQ(lines.back()["lost"], 0);
    lines.pop_back();
    return lines;
}

} // namespace

TEST(Tcpconnlat, TimesLoopbackConnectsIPv4AndIPv6) {
    LoopbackListener v4(AF_INET), v6(AF_INET6);
    Child child(
        [&] {
            connect_once(AF_INET, v4.port());
            connect_once(AF_INET6, v6.port());
        },
        /*exit_after=*/true);
    auto records = trace(child, {"-p", std::to_string(child.pid())});
    const int lport4 = v4.accept_peer_port(), lport6 = v6.accept_peer_port();
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0]["ip"], 4);
    EXPECT_EQ(records[0]["saddr"], "127.0.0.1");
    EXPECT_EQ(records[0]["daddr"], "127.0.0.1");
    EXPECT_EQ(records[0]["dport"], v4.port());
    EXPECT_EQ(records[0]["lport"], lport4);
    EXPECT_EQ(records[1]["ip"], 6);
    EXPECT_EQ(records[1]["saddr"], "::1");
    EXPECT_EQ(records[1]["daddr"], "::1");
    EXPECT_EQ(records[1]["dport"], v6.port());
    EXPECT_EQ(records[1]["lport"], lport6);
    for (const json& record : records) {
        EXPECT_EQ(record["pid"], child.pid());
        EXPECT_EQ(record["comm"], "kernel_tests");
        EXPECT_GT(record["latency_ns"].get<std::uint64_t>(), 0u);
        EXPECT_LT(record["latency_ns"].get<std::uint64_t>(), 2'000'000'000u);
    }
}

// min_ms: a loopback handshake never takes 5 s, so nothing is reported.
TEST(Tcpconnlat, MinimumLatencyFilter) {
    LoopbackListener v4(AF_INET);
    Child child([&] { connect_once(AF_INET, v4.port()); }, /*exit_after=*/true);
    auto records = trace(child, {"-p", std::to_string(child.pid()), "5000"});
    EXPECT_TRUE(records.empty());
    EXPECT_EQ(v4.accept_peer_port() > 0, true);
}

TEST(Tcpconnlat, BadInputAndCleanup) {
    auto missing = run({coretrace_binary(), "tcpconnlat", "-p", "999999"});
    EXPECT_EQ(missing.code, 1) << missing.err;
    EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
    auto bad = run({coretrace_binary(), "tcpconnlat", "abc"});
    EXPECT_EQ(bad.code, 2) << bad.err;

    Subprocess tool({coretrace_binary(), "tcpconnlat"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 1u);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}

// -v names the hooks: where the kernel refuses fentry (this one), the fentry/fexit candidates are
// passed over with the library's reason and inet_sock_set_state is used for each; where it allows
// them, the function hooks and tcp_destroy_sock are used and inet_sock_set_state is not. Either
// way the connect is timed.
TEST(Tcpconnlat, VerboseShowsHookPath) {
    LoopbackListener v4(AF_INET);
    Child child([&] { connect_once(AF_INET, v4.port()); }, /*exit_after=*/true);
    Subprocess tool(
        {coretrace_binary(), "tcpconnlat", "--json", "-v", "-p", std::to_string(child.pid())});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    EXPECT_EQ(child.reap(), 0);
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(20s), 0) << tool.err();
    const std::string err = tool.err();
    const std::pair<std::string, std::string> rows[] = {
        {"TCP connect over IPv4 (start)", "fentry/tcp_v4_connect"},
        {"TCP connect over IPv6 (start)", "fentry/tcp_v6_connect"},
        {"TCP handshake end (SYN_SENT->ESTABLISHED)", "fexit/tcp_rcv_state_process"},
    };
    if (err.find(rows[0].first + ": using " + rows[0].second) != std::string::npos) {
        for (const auto& [row, hook] : rows)
            EXPECT_NE(err.find(row + ": using " + hook), std::string::npos) << err;
        EXPECT_NE(err.find("using tp/tcp/tcp_destroy_sock"), std::string::npos) << err;
        EXPECT_EQ(err.find("using tp/sock/inet_sock_set_state"), std::string::npos) << err;
    } else {
        for (const auto& [row, hook] : rows) {
            const std::string passed = row + ": passed over " + hook + ": ";
            const auto at = err.find(passed);
            ASSERT_NE(at, std::string::npos) << err;
            EXPECT_GT(err.find('\n', at), at + passed.size() + 10) << err; // the reason
            EXPECT_NE(err.find(row + ": using tp/sock/inet_sock_set_state"), std::string::npos)
                << err;
        }
        EXPECT_EQ(err.find("tcp_destroy_sock"), std::string::npos) << err;
    }
    auto lines = json_lines(tool.out());
    ASSERT_EQ(lines.size(), 2u) << tool.out();
    EXPECT_EQ(lines[0]["pid"], child.pid());
    EXPECT_EQ(lines[0]["dport"], v4.port());
    EXPECT_EQ(lines[0]["lport"], v4.accept_peer_port());
    EXPECT_EQ(lines[1]["type"], "summary");
    EXPECT_EQ(lines[1]["lost"], 0);
}
