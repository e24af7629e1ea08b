// softirqs on the real kernel: the counts softirqs reports per vector are checked against the
// kernel's own counts in /proc/softirqs over the same window, while a child makes NET_RX
// softirqs with loopback TCP traffic (TIMER, RCU, SCHED ... come by themselves).
#include "irq_procfs.hpp"
#include "tool_run.hpp"

#include "coretrace/perf_event.hpp"

#include <arpa/inet.h>
#include <csignal>
#include <cstdlib>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;
using testing::StartsWith;

namespace {

const std::uint64_t cpus = coretrace::perf::online_cpus().size();

// Sends `rounds` 1 KiB messages over a TCP connection on 127.0.0.1 to itself and reads each
// back: every send is received through the NET_RX softirq.
void loopback_traffic(int rounds) {
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        std::_Exit(3);
    int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client < 0 || ::connect(client, reinterpret_cast<sockaddr*>(&address), length) != 0)
        std::_Exit(4);
    int server = ::accept(listener, nullptr, nullptr);
    if (server < 0)
        std::_Exit(5);
    char buffer[1024] = {};
    for (int i = 0; i < rounds; i++) {
        if (::send(client, buffer, sizeof(buffer), 0) != sizeof(buffer))
            std::_Exit(6);
        for (size_t got = 0; got < sizeof(buffer);) {
            ssize_t n = ::recv(server, buffer, sizeof(buffer) - got, 0);
            if (n <= 0)
                std::_Exit(7);
            got += static_cast<size_t>(n);
        }
    }
    ::close(server);
    ::close(client);
    ::close(listener);
}

struct Window {
    std::map<std::string, std::uint64_t> inner, outer; // per vector, upper case
    json report;
    std::string err;
};

std::map<std::string, std::uint64_t> minus(std::map<std::string, std::uint64_t> after,
                                           const std::map<std::string, std::uint64_t>& before) {
    for (auto& [name, count] : after)
        count -= before.at(name);
    return after;
}

// Runs softirqs --json with `args` around the child's traffic; `cpu` narrows the kernel's
// counts to one CPU's column.
Window trace_traffic(std::vector<std::string> args, const std::string& disable = "", int cpu = -1) {
    Child child([] { loopback_traffic(300); }, /*exit_after=*/true);
    args.insert(args.begin(), {"softirqs", "--json", "-v"});
    Window window;
    const auto outer_begin = softirqs_by_name(cpu);
    ToolRun run = run_around(args,
                             [&] {
                                 const auto inner_begin = softirqs_by_name(cpu);
                                 let_run({&child})();
                                 window.inner = minus(softirqs_by_name(cpu), inner_begin);
                             },
                             {.disable = disable});
    window.outer = minus(softirqs_by_name(cpu), outer_begin);
    window.err = run.err;
    EXPECT_EQ(run.lines.size(), 1u) << run.out;
    if (!run.lines.empty())
        window.report = run.lines.back();
    return window;
}

std::string upper(std::string name) {
    for (auto& c : name)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name;
}

// Every vector's count lies in the window: what the kernel counted while the tool was surely
// attached was seen (less one run in flight per CPU at the edges, and less the runs the kernel
// reports it did not let the programs see), and nothing the kernel did not count from before
// start to after exit.
void expect_in_window(const Window& window) {
    std::map<std::string, std::uint64_t> seen;
    for (const auto& vector : window.report["softirqs"])
        seen[upper(vector["name"])] = vector["count"];
    const std::uint64_t missed = window.report["missed"];
    for (const auto& [name, inner] : window.inner) {
        EXPECT_GE(seen[name] + missed + cpus, inner) << name << ": " << window.report;
        EXPECT_LE(seen[name], window.outer.at(name)) << name << ": " << window.report;
    }
    for (const auto& [name, count] : seen)
        EXPECT_TRUE(window.inner.count(name)) << "a vector /proc/softirqs does not have: " << name;
    EXPECT_GE(window.inner.at("NET_RX"), 100u) << "300 loopback round trips made too few NET_RX";
}

class SoftirqsHooks : public testing::TestWithParam<const char*> {};

} // namespace

// Counts per vector on each hook, against /proc/softirqs.
TEST_P(SoftirqsHooks, CountsMatchProcSoftirqs) {
    const std::string disable = GetParam();
    Window window = trace_traffic({"-C"}, disable);
    const char* expected = disable.empty()       ? "using raw_tp/softirq_entry"
                           : disable == "raw_tp" ? "using tp_btf/softirq_entry"
                                                 : "using tp/irq/softirq_entry";
    EXPECT_NE(window.err.find(expected), std::string::npos) << window.err;
    EXPECT_EQ(window.report["mode"], "time");
    if (disable.find("tp_btf") == std::string::npos) {
        EXPECT_EQ(window.report["missed"], 0)
            << "raw_tp and tp_btf programs are skipped only when they would recurse";
    }
    expect_in_window(window);
}

INSTANTIATE_TEST_SUITE_P(Hooks, SoftirqsHooks, testing::Values("", "raw_tp", "raw_tp,tp_btf"),
                         [](const auto& info) {
                             const std::string p = info.param;
                             return p.empty()       ? std::string("RawTp")
                                    : p == "raw_tp" ? std::string("TpBtfFallback")
                                                    : std::string("TracepointFallback");
                         });

// -c CPU: only that CPU's runs, against that CPU's column of /proc/softirqs.
TEST(Softirqs, CpuFilterMatchesThatCpusColumn) {
    if (cpus < 2)
        GTEST_SKIP() << "needs two CPUs to tell one from the other";
    Window window = trace_traffic({"-c", "1"}, "", 1);
    std::map<std::string, std::uint64_t> seen;
    for (const auto& vector : window.report["softirqs"])
        seen[upper(vector["name"])] = vector["count"];
    for (const auto& [name, inner] : window.inner) {
        EXPECT_GE(seen[name] + 1, inner) << name << ": " << window.report;
        EXPECT_LE(seen[name], window.outer.at(name)) << name << ": " << window.report;
    }
}

// Default: time per vector; -N nanoseconds; -d histograms whose buckets hold the timed runs.
TEST(Softirqs, TimeAndDistribution) {
    Window time = trace_traffic({});
    EXPECT_EQ(time.report["unit"], "usecs");
    Window ns = trace_traffic({"-N"});
    EXPECT_EQ(ns.report["unit"], "nsecs");
    for (const auto& vector : ns.report["softirqs"])
        if (vector["name"] == "net_rx") {
            EXPECT_GT(vector["total_nsecs"].get<std::uint64_t>(),
                      vector["count"].get<std::uint64_t>())
                << "more than 1 ns per run: " << vector;
        }
    Window dist = trace_traffic({"-d"});
    EXPECT_EQ(dist.report["mode"], "distribution");
    bool net_rx = false;
    for (const auto& vector : dist.report["softirqs"]) {
        std::uint64_t timed = 0;
        for (const auto& bucket : vector["buckets"])
            timed += bucket["count"].get<std::uint64_t>();
        // Runs are counted at entry and timed at exit: they differ by the runs in flight when
        // the tool attached or read, at most one per CPU.
        EXPECT_LE(timed, vector["count"].get<std::uint64_t>() + cpus) << vector;
        EXPECT_GE(timed + cpus, vector["count"].get<std::uint64_t>()) << vector;
        net_rx = net_rx || (vector["name"] == "net_rx" && timed >= 100);
    }
    EXPECT_TRUE(net_rx) << dist.report;
}

TEST(Softirqs, TextColumns) {
    ToolRun run = run_around({"softirqs", "-C", "1", "1"}, [] {}, {.ends_itself = true});
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_TRUE(run.out.starts_with("Tracing soft irq event time... Hit Ctrl-C to end.\n\n"
                                    "SOFTIRQ          TOTAL_usecs  TOTAL_count\n"))
        << run.out;
    // A 1-second window always has timer softirqs: "timer" then two right-aligned numbers.
    EXPECT_NE(run.out.find("\ntimer            "), std::string::npos) << run.out;
}

TEST(Softirqs, BadInputIsOneLineAndNothingLoads) {
    EXPECT_THAT(expect_refused({"softirqs", "-c", "4096"}, 1),
                StartsWith("softirqs: cpu 4096 does not exist"));
    expect_refused({"softirqs", "-C", "-d"}, 2);
    expect_refused({"softirqs", "1", "x"}, 2);
}

namespace {
class SoftirqsCleanup : public testing::TestWithParam<Ending> {};
} // namespace

TEST_P(SoftirqsCleanup, NothingOfTheToolRemains) {
    BpfObjects held = expect_cleanup(GetParam().args, GetParam().signo, GetParam().programs);
    EXPECT_GE(held.maps.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Softirqs, SoftirqsCleanup,
                         testing::Values(Ending{"Sigint", {"softirqs", "-C"}, SIGINT, 2},
                                         Ending{"Sighup", {"softirqs", "-d", "--json"}, SIGHUP, 2},
                                         Ending{
                                             "CountReached", {"softirqs", "-N", "1", "1"}, 0, 2}),
                         [](const auto& info) { return info.param.name; });
