// tcpsynbl on the real kernel: a child makes three connections to a listener of the test (backlog
// 10) that accepts none; tcpsynbl, filtering by the listener's port in the kernel, must report a
// histogram for backlog_max 10 with the backlogs 0, 1 and 2 the three handshakes found.
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"
#include "tool_run.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <gtest/gtest.h>
#include <map>
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

// Three handshakes on a listener of backlog 10 that accepts none, with tcpsynbl --json -L PORT
// plus `extra` running; checks the histogram and puts tcpsynbl's stderr in `err`.
void backlog_of_three_into(int family, const std::vector<std::string>& extra, std::string& err) {
    int listener = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage bound = loopback(family, 0);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&bound), sizeof(bound)), 0);
    ASSERT_EQ(::listen(listener, 10), 0);
    socklen_t length = sizeof(bound);
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &length);
    const int port = port_of(bound);

    Child child(
        [&] {
            for (int i = 0; i < 3; i++) {
                int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                sockaddr_storage target = loopback(family, port);
                if (::connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0)
                    ::_exit(3);
                ::usleep(20 * 1000); // the server side completes before the next connect
            }
        },
        /*exit_after=*/false);
    std::vector<std::string> argv = {coretrace_binary(), "tcpsynbl", "--json", "-L",
                                     std::to_string(port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Subprocess tool(argv);
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    ASSERT_TRUE(child.wait_done());
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(20s), 0) << tool.err();
    ::close(listener);
    err = tool.err();

    auto lines = json_lines(tool.out());
    ASSERT_EQ(lines.size(), 1u) << tool.out();
    const json& histograms = lines[0]["histograms"];
    ASSERT_EQ(histograms.size(), 1u) << histograms;
    EXPECT_EQ(histograms[0]["backlog_max"], 10);
    EXPECT_EQ(histograms[0]["count"], 3);
    // The handshakes found 0, 1 and 2 connections waiting: two in the bucket 0 -> 1, one in
    // 2 -> 3 (libbpf-tools' log2 buckets).
    std::map<std::uint64_t, std::uint64_t> by_min;
    for (const json& bucket : histograms[0]["buckets"])
        by_min[bucket["min_backlog"].get<std::uint64_t>()] = bucket["count"].get<std::uint64_t>();
    EXPECT_EQ(by_min[0], 2u) << histograms;
    EXPECT_EQ(by_min[2], 1u) << histograms;
}

void backlog_of_three(int family) {
    std::string err;
    backlog_of_three_into(family, {}, err);
}

} // namespace

TEST(Tcpsynbl, BacklogOfThreeWaitingConnectionsIPv4) {
    backlog_of_three(AF_INET);
}

TEST(Tcpsynbl, BacklogOfThreeWaitingConnectionsIPv6) {
    backlog_of_three(AF_INET6);
}

// Here (no fentry, no kprobes) -v shows the IPv4 function's hooks passed over with the library's
// reason and the state change chosen, which then serves IPv6 listeners too (the IPv6 function
// is not considered), and the three handshakes on an IPv6 listener are still counted. On a
// kernel that allows fentry or kprobes (Debian 12's 6.1) those are chosen: skipped here.
TEST(Tcpsynbl, VerboseShowsTheFunctionHooksPassedOver) {
    std::string err;
    backlog_of_three_into(AF_INET6, {"-v"}, err);
    if (function_hook_chosen(err))
        GTEST_SKIP() << "this kernel allows fentry or kprobes: the tracepoint is not used";
    expect_hook_choice(
        err, "handshake completed on an IPv4 listener (tracepoint: any, LISTEN->SYN_RECV)",
        {"fentry/tcp_v4_syn_recv_sock", "kprobe/tcp_v4_syn_recv_sock"},
        "tp/sock/inet_sock_set_state");
    // The IPv6 row follows the first onto the tracepoint (one program for both families).
    expect_hook_choice(err, "handshake completed on an IPv6 listener",
                       {"fentry/tcp_v6_syn_recv_sock", "kprobe/tcp_v6_syn_recv_sock"},
                       "tp/sock/inet_sock_set_state");
}

TEST(Tcpsynbl, BadInputAndCleanup) {
    auto both = run({coretrace_binary(), "tcpsynbl", "-4", "-6"});
    EXPECT_EQ(both.code, 2) << both.err;
    EXPECT_EQ(std::count(both.err.begin(), both.err.end(), '\n'), 1) << both.err;

    Subprocess tool({coretrace_binary(), "tcpsynbl"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 1u);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}
