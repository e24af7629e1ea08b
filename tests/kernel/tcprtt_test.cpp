// tcprtt on the real kernel: a child connects over loopback to a listener of the test and sends
// data; tcprtt, filtering by the listener's port (and address) in the kernel, must have RTT
// samples of the accepted socket, and none when the address filter excludes it.
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

// Runs tcprtt --json `args` while a child sends 20 small messages over `family` loopback to a
// listener whose port replaces "PORT" in `args`; returns the histograms of the final report (and
// tcprtt's stderr in `err` when given).
json histograms_during_transfer(int family, std::vector<std::string> args,
                                std::string* err = nullptr) {
    int listener = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage bound = loopback(family, 0);
    EXPECT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&bound), sizeof(bound)), 0);
    EXPECT_EQ(::listen(listener, 4), 0);
    socklen_t length = sizeof(bound);
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &length);
    const int port = port_of(bound);
    timeval timeout{5, 0};
    ::setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    for (auto& arg : args)
        if (arg == "PORT")
            arg = std::to_string(port);

    Child child(
        [&] {
            int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_storage target = loopback(family, port);
            if (::connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0)
                ::_exit(3);
            for (int i = 0; i < 20; i++) {
                if (!write_all(fd, 1000))
                    ::_exit(4);
                char ack;
                if (::read(fd, &ack, 1) != 1) // one round trip per message
                    ::_exit(5);
            }
            ::close(fd);
        },
        /*exit_after=*/true);
    std::vector<std::string> argv = {coretrace_binary(), "tcprtt", "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess tool(argv);
    EXPECT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    child.go();
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    EXPECT_GE(fd, 0);
    for (int i = 0; i < 20 && fd >= 0; i++) {
        EXPECT_EQ(read_exactly(fd, 1000), 1000u);
        EXPECT_TRUE(write_all(fd, 1));
    }
    EXPECT_EQ(child.reap(), 0);
    ::close(fd);
    ::close(listener);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    if (err)
        *err = tool.err();
    auto lines = json_lines(tool.out());
    EXPECT_EQ(lines.size(), 1u) << tool.out();
    if (lines.empty())
        return json::array();
    EXPECT_EQ(lines.back()["unit"], "usecs");
    return lines.back()["histograms"];
}

} // namespace

// -p (local port) keeps the accepted socket's samples: at least one per message it received
// after the handshake, all in one "all addresses" histogram.
TEST(Tcprtt, SamplesOfAnIPv4Transfer) {
    json histograms = histograms_during_transfer(AF_INET, {"-p", "PORT"});
    ASSERT_EQ(histograms.size(), 1u) << histograms;
    EXPECT_GE(histograms[0]["count"].get<std::uint64_t>(), 10u) << histograms;
    EXPECT_FALSE(histograms[0].contains("laddr"));
    std::uint64_t in_buckets = 0;
    for (const json& bucket : histograms[0]["buckets"])
        in_buckets += bucket["count"].get<std::uint64_t>();
    EXPECT_EQ(in_buckets, histograms[0]["count"].get<std::uint64_t>());
}

// -b: one histogram per local address; -a: the IPv6 loopback only.
TEST(Tcprtt, ByLocalAddressIPv6) {
    json histograms = histograms_during_transfer(AF_INET6, {"-p", "PORT", "-b", "-a", "::1"});
    ASSERT_EQ(histograms.size(), 1u) << histograms;
    EXPECT_EQ(histograms[0]["laddr"], "::1");
    EXPECT_GE(histograms[0]["count"].get<std::uint64_t>(), 10u);
}

// -A excludes everything here: the remote address is 127.0.0.1, not 127.0.0.2.
TEST(Tcprtt, AddressFilterExcludes) {
    json histograms = histograms_during_transfer(AF_INET, {"-p", "PORT", "-A", "127.0.0.2"});
    EXPECT_TRUE(histograms.empty()) << histograms;
}

// Here (no fentry, no kprobes) -v shows tcp_rcv_established's hooks passed over with the
// library's reason and tcp:tcp_probe chosen, and the samples are still taken. On a kernel that
// allows fentry or kprobes (Debian 12's 6.1) those are chosen: skipped here.
TEST(Tcprtt, VerboseShowsTheFunctionHooksPassedOver) {
    std::string err;
    json histograms = histograms_during_transfer(AF_INET, {"-v", "-p", "PORT"}, &err);
    if (function_hook_chosen(err))
        GTEST_SKIP() << "this kernel allows fentry or kprobes: the tracepoint is not used";
    expect_hook_choice(err, "segment received in ESTABLISHED (srtt)",
                       {"fentry/tcp_rcv_established", "kprobe/tcp_rcv_established"},
                       "tp/tcp/tcp_probe");
    ASSERT_EQ(histograms.size(), 1u) << histograms;
    EXPECT_GE(histograms[0]["count"].get<std::uint64_t>(), 10u) << histograms;
}

TEST(Tcprtt, BadInputAndCleanup) {
    auto address = run({coretrace_binary(), "tcprtt", "-a", "300.1.1.1"});
    EXPECT_EQ(address.code, 2) << address.err;
    EXPECT_EQ(std::count(address.err.begin(), address.err.end(), '\n'), 1) << address.err;
    auto both = run({coretrace_binary(), "tcprtt", "-b", "-B"});
    EXPECT_EQ(both.code, 2) << both.err;

    Subprocess tool({coretrace_binary(), "tcprtt"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 1u);
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    EXPECT_TRUE(still_loaded(held, std::chrono::seconds(3)).empty());
}
