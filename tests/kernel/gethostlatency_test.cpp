// gethostlatency: a child of ours resolves "localhost" a known number of times with each of
// getaddrinfo(), gethostbyname() and gethostbyname2(); exactly those lookups are reported, with
// the child's PID, the host, the function, the result and a latency; a host name longer than the
// record holds is cut cleanly and flagged; bad input is refused in one line; nothing remains
// loaded after the tool exits.
#include "json_lines.hpp"
#include "subprocess.hpp"
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>
#include <netdb.h>
#include <string>
#include <sys/socket.h>

using namespace coretrace::test;

namespace {

// getaddrinfo(host) with `flags`; returns its result.
int lookup(const char* host, int flags = 0) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = flags;
    addrinfo* result = nullptr;
    const int error = ::getaddrinfo(host, nullptr, &hints, &result);
    if (result)
        ::freeaddrinfo(result);
    return error;
}

std::vector<nlohmann::json> with_function(const std::vector<nlohmann::json>& records,
                                          const std::string& function) {
    return records_with(records, "function", function);
}

} // namespace

TEST(Gethostlatency, EveryLookupOfTheProcessWithHostAndLatency) {
    constexpr int kLookups = 5;
    Child child([] {
        for (int i = 0; i < kLookups; i++)
            if (lookup("localhost") != 0)
                ::_exit(3);
        if (!::gethostbyname("localhost") || !::gethostbyname2("localhost", AF_INET))
            ::_exit(4);
    });
    auto run = run_around({"gethostlatency", "--json", "-p", std::to_string(child.pid())},
                          let_run({&child}));
    auto records = records_with(event_records(run), "pid", static_cast<unsigned>(child.pid()));
    ASSERT_EQ(records.size(), static_cast<std::size_t>(kLookups + 2)) << run.out;
    auto getaddrinfos = with_function(records, "getaddrinfo");
    ASSERT_EQ(getaddrinfos.size(), static_cast<std::size_t>(kLookups)) << run.out;
    for (const auto& record : getaddrinfos) {
        EXPECT_EQ(record["error"], 0) << record;
        EXPECT_FALSE(record.contains("found")) << record;
    }
    ASSERT_EQ(with_function(records, "gethostbyname").size(), 1u) << run.out;
    ASSERT_EQ(with_function(records, "gethostbyname2").size(), 1u) << run.out;
    EXPECT_EQ(with_function(records, "gethostbyname")[0]["found"], true);
    EXPECT_EQ(with_function(records, "gethostbyname2")[0]["found"], true);
    for (const auto& record : records) {
        EXPECT_EQ(record["host"], "localhost") << record;
        EXPECT_EQ(record["host_truncated"], false) << record;
        EXPECT_EQ(record["tid"], record["pid"]) << record;
        EXPECT_GT(record["latency_ns"].get<long>(), 0) << record;
        EXPECT_LT(record["latency_ns"].get<long>(), 5'000'000'000L) << record;
    }
}

TEST(Gethostlatency, LongHostIsCutCleanlyAndTheErrorReported) {
    // AI_NUMERICHOST: refused at once (EAI_NONAME), without asking any name server.
    const std::string host(300, 'h');
    int error = 0;
    Child child([&host] { (void)lookup(host.c_str(), AI_NUMERICHOST); });
    error = lookup(host.c_str(), AI_NUMERICHOST);
    auto run = run_around({"gethostlatency", "--json", "-p", std::to_string(child.pid())},
                          let_run({&child}));
    auto records = records_with(event_records(run), "pid", static_cast<unsigned>(child.pid()));
    ASSERT_EQ(records.size(), 1u) << run.out;
    EXPECT_EQ(records[0]["function"], "getaddrinfo");
    EXPECT_EQ(records[0]["host"], host.substr(0, 255));
    EXPECT_EQ(records[0]["host_truncated"], true);
    EXPECT_NE(error, 0);
    EXPECT_EQ(records[0]["error"], error);
}

TEST(Gethostlatency, TextOutputColumns) {
    Child child([] { (void)lookup("localhost"); });
    auto run = run_around({"gethostlatency", "-p", std::to_string(child.pid())}, let_run({&child}));
    EXPECT_NE(
        run.out.find("... Hit Ctrl-C to end.\nTIME     PID     COMM             LATms      HOST\n"),
        std::string::npos)
        << run.out;
    const std::string pid = std::to_string(child.pid());
    EXPECT_NE(run.out.find(" " + pid + std::string(8 - pid.size(), ' ')), std::string::npos)
        << run.out;
    EXPECT_NE(run.out.find(" localhost\n"), std::string::npos) << run.out;
}

TEST(Gethostlatency, BadInputIsRefusedInOneLine) {
    expect_refused({"gethostlatency", "-p", "999999"}, 1, "999999");
    expect_refused({"gethostlatency", "-l", "/no/such/libc.so.6"}, 1, "No such file");
    expect_refused({"gethostlatency", "-l", "/bin/true"}, 1, "getaddrinfo");
}

TEST(Gethostlatency, NothingRemainsAfterExit) {
    expect_cleanup({"gethostlatency"}, SIGINT, 2);
    expect_cleanup({"gethostlatency", "-d", "1"}, 0, 2);
}
