// solisten on the real kernel: a child listens on sockets the test knows (IPv4 bound to
// 127.0.0.1, IPv6 left unbound so the kernel picks its port, and a UDP socket, whose listen(2)
// fails); solisten, filtering by the child's PID in the kernel, must report each call with its
// result, backlog, protocol, port and address.
#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"
#include "tool_run.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

// Ports the child's sockets got, written by the child into memory shared with the test.
struct Shared {
    int v4_port = -1, v6_port = -1;
};

int local_port(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(reinterpret_cast<sockaddr_in&>(address).sin_port); // same offset in sin6
}

void listen_sockets(Shared* shared) {
    int v4 = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(v4, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(v4, 42) != 0)
        ::_exit(3);
    shared->v4_port = local_port(v4);
    int v6 = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::listen(v6, 7) != 0)
        ::_exit(4);
    shared->v6_port = local_port(v6);
    int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (::listen(udp, 5) != -1 || errno != EOPNOTSUPP)
        ::_exit(5);
    ::close(v4);
    ::close(v6);
    ::close(udp);
}

} // namespace

TEST(Solisten, SeesTheChildsListens) {
    void* memory =
        ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(memory, MAP_FAILED);
    auto* shared = new (memory) Shared;
    Child child([&] { listen_sockets(shared); }, /*exit_after=*/true);
    Subprocess tool({coretrace_binary(), "solisten", "--json", "-p", std::to_string(child.pid())});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    ASSERT_EQ(child.reap(), 0);
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(20s), 0) << tool.err();
    auto lines = json_lines(tool.out());
    ASSERT_FALSE(lines.empty()) << tool.err();
    EXPECT_EQ(lines.back()["type"], "summary");
    EXPECT_EQ(lines.back()["lost"], 0);
    lines.pop_back();

    ASSERT_EQ(lines.size(), 3u) << tool.out();
    EXPECT_EQ(lines[0]["ret"], 0);
    EXPECT_EQ(lines[0]["backlog"], 42);
    EXPECT_EQ(lines[0]["protocol"], "TCPv4");
    EXPECT_EQ(lines[0]["addr"], "127.0.0.1");
    EXPECT_EQ(lines[0]["port"], shared->v4_port);
    EXPECT_EQ(lines[1]["ret"], 0);
    EXPECT_EQ(lines[1]["backlog"], 7);
    EXPECT_EQ(lines[1]["protocol"], "TCPv6");
    EXPECT_EQ(lines[1]["addr"], "::");
    EXPECT_EQ(lines[1]["port"], shared->v6_port);
    EXPECT_EQ(lines[2]["ret"], -EOPNOTSUPP);
    EXPECT_EQ(lines[2]["errno"], EOPNOTSUPP);
    EXPECT_EQ(lines[2]["backlog"], 5);
    EXPECT_EQ(lines[2]["protocol"], "UDPv4");
    for (const json& record : lines) {
        EXPECT_EQ(record["pid"], child.pid());
        EXPECT_EQ(record["comm"], "kernel_tests");
    }
    ::munmap(memory, sizeof(Shared));
}

// Here (no fexit) -v shows fexit/inet_listen passed over with the library's reason and listen(2)'s
// two tracepoints chosen, and the child's listens are still reported, the UDP one included. On
// a kernel that allows fexit (Debian 12's 6.1) it is chosen: skipped here.
TEST(Solisten, VerboseShowsTheFunctionHookPassedOver) {
    void* memory =
        ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(memory, MAP_FAILED);
    auto* shared = new (memory) Shared;
    Child child([&] { listen_sockets(shared); }, /*exit_after=*/true);
    Subprocess tool(
        {coretrace_binary(), "solisten", "--json", "-v", "-p", std::to_string(child.pid())});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    ASSERT_EQ(child.reap(), 0);
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(20s), 0) << tool.err();
    const int v4_port = shared->v4_port;
    ::munmap(memory, sizeof(Shared));
    if (function_hook_chosen(tool.err()))
        GTEST_SKIP() << "this kernel allows fexit: the tracepoints are not used";
    expect_hook_choice(tool.err(), "listen (fexit: the whole call; tracepoint: listen(2) entry)",
                       {"fexit/inet_listen"}, "tp/syscalls/sys_enter_listen");
    expect_hook_choice(tool.err(), "listen(2) exit (tracepoint path)", {},
                       "tp/syscalls/sys_exit_listen");

    auto lines = json_lines(tool.out());
    ASSERT_EQ(lines.size(), 4u) << tool.out(); // three listens and the summary
    EXPECT_EQ(lines[0]["pid"], child.pid());
    EXPECT_EQ(lines[0]["backlog"], 42);
    EXPECT_EQ(lines[0]["port"], v4_port);
    EXPECT_EQ(lines[2]["protocol"], "UDPv4");
    EXPECT_EQ(lines[2]["ret"], -EOPNOTSUPP);
    EXPECT_EQ(lines[3]["type"], "summary");
}

TEST(Solisten, BadInputAndCleanup) {
    auto missing = run({coretrace_binary(), "solisten", "-p", "999999"});
    EXPECT_EQ(missing.code, 1) << missing.err;
    EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;

    Subprocess tool({coretrace_binary(), "solisten"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 2u);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}
