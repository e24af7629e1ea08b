// bindsnoop on the real kernel: a child binds sockets the test chose (TCP on ::1 with
// SO_REUSEPORT, UDP on 127.0.0.1, and a TCP bind on a port this process listens on, which fails
// with EADDRINUSE); bindsnoop, filtering by the child's PID in the kernel, must report each with
// its result, protocol, options, port and address.
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

// Binds a socket of `type` to loopback port 0 and returns it and the port the kernel chose.
std::pair<int, int> bound_socket(int family, int type) {
    int fd = ::socket(family, type | SOCK_CLOEXEC, 0);
    sockaddr_storage address = loopback(family, 0);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
        throw std::runtime_error("cannot bind on loopback");
    socklen_t length = sizeof(address);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    return {fd, ntohs(reinterpret_cast<sockaddr_in&>(address).sin_port)};
}

// A port free on ::1 now (bound, then released: the child binds it a moment later).
int free_port(int family) {
    auto [fd, port] = bound_socket(family, SOCK_STREAM);
    ::close(fd);
    return port;
}

// bind(2) of a new socket, with an option set first; returns bind's result (0 or -errno).
int bind_with(int family, int type, int port, int option) {
    int fd = ::socket(family, type | SOCK_CLOEXEC, 0);
    int one = 1;
    if (option)
        ::setsockopt(fd, SOL_SOCKET, option, &one, sizeof(one));
    sockaddr_storage address = loopback(family, port);
    int ret = ::bind(fd, reinterpret_cast<sockaddr*>(&address),
                     family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    ret = ret == 0 ? 0 : -errno;
    ::close(fd);
    return ret;
}

struct Traced {
    std::vector<json> records;
    std::string err;
};

Traced trace(Child& child, std::vector<std::string> args) {
    std::vector<std::string> argv = {coretrace_binary(), "bindsnoop", "--json"};
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
    EXPECT_EQ(lines.back()["type"], "summary");
    EXPECT_EQ(lines.back()["lost"], 0);
    lines.pop_back();
    traced.records = std::move(lines);
    return traced;
}

} // namespace

// Each bind with its result; -x includes the failed one, which is left out without it.
TEST(Bindsnoop, SeesTheChildsBindsAndTheirResults) {
    auto [listener, busy_port] = bound_socket(AF_INET, SOCK_STREAM);
    ASSERT_EQ(::listen(listener, 4), 0);
    const int v6_port = free_port(AF_INET6);
    auto work = [&, busy = busy_port] {
        if (bind_with(AF_INET6, SOCK_STREAM, v6_port, SO_REUSEPORT) != 0)
            ::_exit(3);
        if (bind_with(AF_INET, SOCK_DGRAM, 0, 0) != 0)
            ::_exit(4);
        if (bind_with(AF_INET, SOCK_STREAM, busy, SO_REUSEADDR) != -EADDRINUSE)
            ::_exit(5);
    };

    Child with_errors(work, /*exit_after=*/true);
    Traced all = trace(with_errors, {"-x", "-p", std::to_string(with_errors.pid())});
    ASSERT_EQ(all.records.size(), 3u) << all.err;
    const json& v6 = all.records[0];
    EXPECT_EQ(v6["ret"], 0);
    EXPECT_EQ(v6["protocol"], "TCP");
    EXPECT_EQ(v6["ip"], 6);
    EXPECT_EQ(v6["addr"], "::1");
    EXPECT_EQ(v6["port"], v6_port);
    EXPECT_EQ(v6["opts"], "....r");
    const json& udp = all.records[1];
    EXPECT_EQ(udp["ret"], 0);
    EXPECT_EQ(udp["protocol"], "UDP");
    EXPECT_EQ(udp["ip"], 4);
    EXPECT_EQ(udp["addr"], "127.0.0.1");
    EXPECT_EQ(udp["port"], 0);
    EXPECT_EQ(udp["opts"], ".....");
    const json& busy = all.records[2];
    EXPECT_EQ(busy["ret"], -EADDRINUSE);
    EXPECT_EQ(busy["errno"], EADDRINUSE);
    EXPECT_EQ(busy["protocol"], "TCP");
    EXPECT_EQ(busy["addr"], "127.0.0.1");
    EXPECT_EQ(busy["port"], busy_port);
    EXPECT_EQ(busy["opts"], "...R.");
    for (const json& record : all.records) {
        EXPECT_EQ(record["pid"], with_errors.pid());
        EXPECT_EQ(record["comm"], "kernel_tests");
        EXPECT_EQ(record["uid"], ::getuid());
        EXPECT_EQ(record["bound_dev_if"], 0);
    }

    Child successful(work, /*exit_after=*/true);
    Traced ok = trace(successful, {"-p", std::to_string(successful.pid())});
    ASSERT_EQ(ok.records.size(), 2u) << ok.err;
    for (const json& record : ok.records)
        EXPECT_EQ(record["ret"], 0);
    ::close(listener);
}

// -P keeps the binds to the listed ports only.
TEST(Bindsnoop, PortFilter) {
    const int wanted = free_port(AF_INET);
    Child child(
        [&] {
            bind_with(AF_INET, SOCK_DGRAM, 0, 0);
            bind_with(AF_INET, SOCK_STREAM, wanted, 0);
        },
        /*exit_after=*/true);
    Traced traced = trace(child, {"-P", std::to_string(wanted), "-p", std::to_string(child.pid())});
    ASSERT_EQ(traced.records.size(), 1u) << traced.err;
    EXPECT_EQ(traced.records[0]["port"], wanted);
}

TEST(Bindsnoop, BadInputAndCleanup) {
    auto missing = run({coretrace_binary(), "bindsnoop", "-p", "999999"});
    EXPECT_EQ(missing.code, 1) << missing.err;
    EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
    auto cgroup = run({coretrace_binary(), "bindsnoop", "-c", "/nonexistent-cgroup"});
    EXPECT_EQ(cgroup.code, 1) << cgroup.err;

    Subprocess tool({coretrace_binary(), "bindsnoop"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 2u);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}

// -v names the hooks: where the kernel refuses fentry (this one), fexit on inet_bind and
// inet6_bind is passed over with the library's reason and bind(2)'s entry and exit are used;
// where it allows them, both fexit programs and no tracepoint. Either way both binds are seen.
TEST(Bindsnoop, VerboseShowsHookPath) {
    const int v4_port = free_port(AF_INET), v6_port = free_port(AF_INET6);
    Child child(
        [&] {
            if (bind_with(AF_INET, SOCK_STREAM, v4_port, 0) != 0 ||
                bind_with(AF_INET6, SOCK_DGRAM, v6_port, 0) != 0)
                ::_exit(3);
        },
        /*exit_after=*/true);
    Traced traced = trace(child, {"-v", "-p", std::to_string(child.pid())});
    const std::string& err = traced.err;
    const std::pair<std::string, std::string> rows[] = {
        {"bind on an IPv4 socket", "fexit/inet_bind"},
        {"bind on an IPv6 socket", "fexit/inet6_bind"},
    };
    if (err.find(rows[0].first + ": using " + rows[0].second) != std::string::npos) {
        for (const auto& [row, hook] : rows)
            EXPECT_NE(err.find(row + ": using " + hook), std::string::npos) << err;
        EXPECT_EQ(err.find(": using tp/"), std::string::npos) << err;
    } else {
        for (const auto& [row, hook] : rows) {
            const std::string passed = row + ": passed over " + hook + ": ";
            const auto at = err.find(passed);
            ASSERT_NE(at, std::string::npos) << err;
            EXPECT_GT(err.find('\n', at), at + passed.size() + 10) << err; // the reason
            EXPECT_NE(err.find(row + ": using tp/syscalls/sys_enter_bind"), std::string::npos)
                << err;
        }
        EXPECT_NE(err.find("bind(2) exit: using tp/syscalls/sys_exit_bind"), std::string::npos)
            << err;
    }
    ASSERT_EQ(traced.records.size(), 2u) << err;
    EXPECT_EQ(traced.records[0]["protocol"], "TCP");
    EXPECT_EQ(traced.records[0]["addr"], "127.0.0.1");
    EXPECT_EQ(traced.records[0]["port"], v4_port);
    EXPECT_EQ(traced.records[1]["protocol"], "UDP");
    EXPECT_EQ(traced.records[1]["addr"], "::1");
    EXPECT_EQ(traced.records[1]["port"], v6_port);
    for (const json& record : traced.records) {
        EXPECT_EQ(record["pid"], child.pid());
        EXPECT_EQ(record["ret"], 0);
    }
}
