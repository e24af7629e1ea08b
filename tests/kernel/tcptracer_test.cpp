// tcptracer on the real kernel: a child connects over loopback to a listener of the test, which
// accepts; then the child closes, and the test closes. tcptracer must report the connect and the
// child's close for the child, and the accept and the test's close for this process, with the
// ports and addresses of each end.
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

struct Session {
    int port = 0, child_port = 0;
    pid_t child = 0;
    std::vector<json> records;
    std::string err; // the tool's stderr
};

// One connection from a child to this process over `family` loopback, traced with `args`.
Session session(int family, std::vector<std::string> args, bool filter_child) {
    Session s;
    int listener = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage bound = loopback(family, 0);
    EXPECT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&bound), sizeof(bound)), 0);
    EXPECT_EQ(::listen(listener, 4), 0);
    socklen_t length = sizeof(bound);
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &length);
    s.port = port_of(bound);
    timeval timeout{5, 0};
    ::setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));

    Child child(
        [&] {
            int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_storage target = loopback(family, s.port);
            if (::connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0)
                ::_exit(3);
            ::close(fd);
        },
        /*exit_after=*/true);
    s.child = child.pid();
    std::vector<std::string> argv = {coretrace_binary(), "tcptracer", "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    if (filter_child) {
        argv.push_back("-p");
        argv.push_back(std::to_string(child.pid()));
    }
    Subprocess tool(argv);
    EXPECT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    EXPECT_EQ(child.reap(), 0);
    sockaddr_storage peer{};
    length = sizeof(peer);
    int fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
    EXPECT_GE(fd, 0);
    s.child_port = port_of(peer);
    ::close(fd);
    ::close(listener);
    ::usleep(50 * 1000);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    s.err = tool.err();
    auto lines = json_lines(tool.out());
    EXPECT_FALSE(lines.empty()) << tool.err();
    if (lines.empty())
        return s;
    EXPECT_EQ(lines.back()["type"], "summary");
    EXPECT_EQ(lines.back()["lost"], 0);
    lines.pop_back();
    // Only this session's records (the system may have other connections).
    for (auto& record : lines)
        if ((record["sport"] == s.port && record["dport"] == s.child_port) ||
            (record["dport"] == s.port && record["sport"] == s.child_port))
            s.records.push_back(std::move(record));
    return s;
}

const json* find(const Session& s, const char* type, int sport) {
    for (const json& record : s.records)
        if (record["type"] == type && record["sport"] == sport)
            return &record;
    return nullptr;
}

void both_ends(int family, const char* address) {
    Session s = session(family, {}, false);
    ASSERT_EQ(s.records.size(), 4u);
    const json* connect = find(s, "connect", s.child_port);
    const json* child_close = find(s, "close", s.child_port);
    const json* accept = find(s, "accept", s.port);
    const json* server_close = find(s, "close", s.port);
    ASSERT_TRUE(connect && child_close && accept && server_close);
    EXPECT_EQ((*connect)["pid"], s.child);
    EXPECT_EQ((*child_close)["pid"], s.child);
    EXPECT_EQ((*accept)["pid"], ::getpid());
    EXPECT_EQ((*server_close)["pid"], ::getpid());
    for (const json* record : {connect, child_close})
        EXPECT_EQ((*record)["dport"], s.port);
    for (const json* record : {accept, server_close})
        EXPECT_EQ((*record)["dport"], s.child_port);
    for (const json& record : s.records) {
        EXPECT_EQ(record["ip"], family == AF_INET ? 4 : 6);
        EXPECT_EQ(record["saddr"], address);
        EXPECT_EQ(record["daddr"], address);
        EXPECT_EQ(record["comm"], "kernel_tests");
        EXPECT_EQ(record["uid"], ::getuid());
    }
    // The connect comes before the close of the same socket.
    EXPECT_LT((*connect)["ts_ns"].get<std::int64_t>(), (*child_close)["ts_ns"].get<std::int64_t>());
}

// The hook lines of -v: which path was taken, and that it is the whole path. Where the kernel
// refuses fentry (this one), each function hook is passed over with the library's reason and
// the row's tracepoint used; where it allows them, every row uses its function hook.
void expect_hook_path(const std::string& err) {
    const std::pair<std::string, std::string> rows[] = {
        {"TCP connect over IPv4", "fexit/tcp_v4_connect"},
        {"TCP connect over IPv6", "fexit/tcp_v6_connect"},
        {"TCP connection established", "fentry/tcp_set_state"},
        {"TCP connection closed", "fentry/tcp_close"},
        {"TCP connection accepted", "fexit/inet_csk_accept"},
    };
    if (err.find(rows[0].first + ": using " + rows[0].second) != std::string::npos) {
        for (const auto& [row, hook] : rows)
            EXPECT_NE(err.find(row + ": using " + hook), std::string::npos) << err;
        EXPECT_EQ(err.find(": using tp/"), std::string::npos) << err;
        return;
    }
    for (const auto& [row, hook] : rows)
        expect_hook_choice(err, row, {hook},
                           row == rows[4].first ? "tp/syscalls/sys_exit_accept4"
                                                : "tp/sock/inet_sock_set_state");
    EXPECT_NE(err.find("accept(2) exit: using tp/syscalls/sys_exit_accept"), std::string::npos)
        << err;
}

} // namespace

TEST(Tcptracer, ConnectAcceptCloseIPv4) {
    both_ends(AF_INET, "127.0.0.1");
}

TEST(Tcptracer, ConnectAcceptCloseIPv6) {
    both_ends(AF_INET6, "::1");
}

// -p keeps the child's events: its connect and its close.
TEST(Tcptracer, PidFilter) {
    Session s = session(AF_INET, {}, true);
    ASSERT_EQ(s.records.size(), 2u);
    EXPECT_EQ(s.records[0]["type"], "connect");
    EXPECT_EQ(s.records[1]["type"], "close");
    for (const json& record : s.records)
        EXPECT_EQ(record["pid"], s.child);
}

// -v shows the hook path chosen (the tracepoints here, the function hooks where fentry works),
// and the connection is still reported from both ends.
TEST(Tcptracer, VerboseShowsHookPath) {
    Session s = session(AF_INET, {"-v"}, false);
    expect_hook_path(s.err);
    ASSERT_EQ(s.records.size(), 4u) << s.err;
    EXPECT_TRUE(find(s, "connect", s.child_port)) << s.err;
    EXPECT_TRUE(find(s, "accept", s.port)) << s.err;
    EXPECT_TRUE(find(s, "close", s.child_port)) << s.err;
    EXPECT_TRUE(find(s, "close", s.port)) << s.err;
}

TEST(Tcptracer, BadInputAndCleanup) {
    auto missing = run({coretrace_binary(), "tcptracer", "-p", "999999"});
    EXPECT_EQ(missing.code, 1) << missing.err;
    EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;

    Subprocess tool({coretrace_binary(), "tcptracer"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 3u);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}
