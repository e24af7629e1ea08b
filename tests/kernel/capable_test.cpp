// capable on the real kernel: a child makes capability checks the test knows (unshare(2) of a
// UTS namespace checks CAP_SYS_ADMIN, a raw socket CAP_NET_RAW), once with the capability and
// once after dropping it from its effective set; capable must report each with its verdict.
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sched.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

constexpr int cap_net_raw = 13, cap_sys_admin = 21;

// Removes `cap` from the calling thread's effective set; false on failure.
bool drop_effective(int cap) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (::syscall(SYS_capget, &header, data) != 0)
        return false;
    data[cap / 32].effective &= ~(1u << (cap % 32));
    return ::syscall(SYS_capset, &header, data) == 0;
}

// The child's work: exit status 0 when each call had the result the test expects.
void checks_with_and_without_sys_admin() {
    int raw = ::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (raw < 0)
        ::_exit(10);
    ::close(raw);
    if (::unshare(CLONE_NEWUTS) != 0)
        ::_exit(11);
    if (!drop_effective(cap_sys_admin))
        ::_exit(12);
    if (::unshare(CLONE_NEWUTS) == 0 || errno != EPERM)
        ::_exit(13);
    ::_exit(0);
}

} // namespace

TEST(Capable, ReportsCapNumberNameAndVerdict) {
    if (getuid() != 0)
        GTEST_SKIP() << "needs root to hold CAP_SYS_ADMIN and CAP_NET_RAW";
    Child child(checks_with_and_without_sys_admin, /*exit_after=*/true);
    ToolRun run = run_around({"capable", "--json", "-p", std::to_string(child.pid())}, [&] {
        child.go();
        ASSERT_EQ(child.reap(), 0) << "the child's calls did not behave as expected";
    });
    const std::vector<json> records = event_records(run);

    // -p is applied in the kernel: nothing but the child.
    for (const auto& record : records) {
        EXPECT_EQ(record["pid"], child.pid()) << record;
        EXPECT_EQ(record["tid"], child.pid()) << record;
        EXPECT_EQ(record["uid"], 0) << record;
        EXPECT_EQ(record["comm"], "kernel_tests") << record;
        EXPECT_EQ(record["verdict"], record["ret"] == 0 ? "allow" : "deny") << record;
        EXPECT_FALSE(record.contains("audit")); // unknown to the tracepoint
    }
    // In order: CAP_NET_RAW allowed, CAP_SYS_ADMIN allowed, then CAP_SYS_ADMIN denied (-EPERM).
    std::vector<std::string> seen;
    for (const auto& record : records) {
        if (record["cap"] == cap_net_raw) {
            EXPECT_EQ(record["name"], "CAP_NET_RAW");
            seen.push_back(std::string("net_raw:") + record["verdict"].get<std::string>());
        } else if (record["cap"] == cap_sys_admin) {
            EXPECT_EQ(record["name"], "CAP_SYS_ADMIN");
            seen.push_back(std::string("sys_admin:") + record["verdict"].get<std::string>());
        }
    }
    std::vector<std::string> expected = {"net_raw:allow", "sys_admin:allow", "sys_admin:deny"};
    EXPECT_EQ(seen, expected) << run.out;
    for (const auto& record : records) {
        if (record["cap"] == cap_sys_admin && record["verdict"] == "deny") {
            EXPECT_EQ(record["ret"], -EPERM);
        }
    }
}

// The classic tracepoint, where raw tracepoints are missing, reports the same checks.
TEST(Capable, ClassicTracepointFallback) {
    if (getuid() != 0)
        GTEST_SKIP() << "needs root to hold CAP_SYS_ADMIN";
    Child child([] { ::unshare(CLONE_NEWUTS); }, /*exit_after=*/true);
    ToolRun run = run_around({"capable", "--json", "-v", "-p", std::to_string(child.pid())},
                             let_run({&child}), {.disable = "raw_tp"});
    EXPECT_NE(run.err.find("using tp/capability/cap_capable"), std::string::npos) << run.err;
    auto records = records_with(run.lines, "pid", child.pid());
    ASSERT_EQ(records.size(), 1u) << run.out;
    EXPECT_EQ(records[0]["cap"], cap_sys_admin);
    EXPECT_EQ(records[0]["verdict"], "allow");
}

// -K -U: each check comes with the kernel stack that made it (unshare(2)'s path into the
// capability check) and the user stack (the libc wrapper that made the system call).
TEST(Capable, KernelAndUserStacks) {
    if (getuid() != 0)
        GTEST_SKIP() << "needs root to hold CAP_SYS_ADMIN";
    // The child stays until the test ends: a process that has exited by the time its check is
    // printed (a drain every 100 ms) has no mappings left to name its user frames.
    Child child([] { ::unshare(CLONE_NEWUTS); });
    ToolRun run = run_around({"capable", "--json", "-K", "-U", "-p", std::to_string(child.pid())},
                             let_run({&child}));
    auto records = records_with(run.lines, "pid", child.pid());
    ASSERT_EQ(records.size(), 1u) << run.out;
    const auto& kernel = records[0]["kernel_stack"];
    ASSERT_FALSE(kernel.empty()) << run.out;
    bool unshare = false;
    for (const auto& frame : kernel) {
        EXPECT_NE(frame["function"], "[unknown]") << run.out;
        unshare =
            unshare || frame["function"].get<std::string>().find("unshare") != std::string::npos;
    }
    EXPECT_TRUE(unshare) << run.out;
    const auto& user = records[0]["user_stack"];
    ASSERT_FALSE(user.empty()) << run.out;
    EXPECT_EQ(user[0]["function"], "unshare") << run.out;
    EXPECT_NE(user[0].value("module", "").find("libc"), std::string::npos) << run.out;

    // Text: the frames follow the check's line, indented.
    Child again([] { ::unshare(CLONE_NEWUTS); });
    ToolRun text =
        run_around({"capable", "-K", "-U", "-p", std::to_string(again.pid())}, let_run({&again}));
    EXPECT_NE(text.out.find("CAP_SYS_ADMIN"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("\n    unshare\n"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("    --\n"), std::string::npos) << text.out;
}

// -u pid: a capability is reported once per process, however often it is checked.
TEST(Capable, UniquePerProcess) {
    if (getuid() != 0)
        GTEST_SKIP() << "needs root to hold CAP_SYS_ADMIN";
    auto five_checks = [] {
        for (int i = 0; i < 5; i++)
            if (::unshare(CLONE_NEWUTS) != 0)
                ::_exit(10);
    };
    auto count_sys_admin = [](const std::vector<json>& lines) {
        return std::count_if(lines.begin(), lines.end(), [](const json& r) {
            return r.contains("cap") && r["cap"] == cap_sys_admin;
        });
    };

    Child all(five_checks, /*exit_after=*/true);
    ToolRun every =
        run_around({"capable", "--json", "-p", std::to_string(all.pid())}, let_run({&all}));
    EXPECT_EQ(count_sys_admin(records_with(every.lines, "pid", all.pid())), 5) << every.out;

    Child once(five_checks, /*exit_after=*/true);
    ToolRun unique = run_around(
        {"capable", "--json", "-u", "pid", "-p", std::to_string(once.pid())}, let_run({&once}));
    EXPECT_EQ(count_sys_admin(records_with(unique.lines, "pid", once.pid())), 1) << unique.out;
}

// libbpf-tools' -x columns; AUDIT and INSETID are '-' (not carried by the tracepoint).
TEST(Capable, TextColumnsWithExtraFields) {
    if (getuid() != 0)
        GTEST_SKIP() << "needs root to hold CAP_SYS_ADMIN";
    Child child([] { ::unshare(CLONE_NEWUTS); }, /*exit_after=*/true);
    ToolRun run =
        run_around({"capable", "-x", "-p", std::to_string(child.pid())}, let_run({&child}));
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_NE(run.out.find("TIME     UID   PID     TID     COMM             CAP     NAME       "
                           "          AUDIT   VERDICT INSETID"),
              std::string::npos)
        << run.out;
    char expected[160];
    std::snprintf(expected, sizeof(expected), " %-5d %-7d %-7d %-16s %-7d %-20s %-7s %-7s %-7s", 0,
                  child.pid(), child.pid(), "kernel_tests", cap_sys_admin, "CAP_SYS_ADMIN", "-",
                  "allow", "-");
    int matches = 0;
    std::istringstream lines(run.out);
    std::string line;
    while (std::getline(lines, line))
        if (line.size() > 8 && line.substr(8) == expected)
            matches++;
    EXPECT_EQ(matches, 1) << run.out;
}

TEST(Capable, BadInput) {
    expect_refused({"capable", "-p", "999999"}, 1, "999999");
    expect_refused({"capable", "-K", "--stack-storage-size", "0"}, 2, "stack-storage-size");
    expect_refused({"capable", "-u", "thread"}, 2, "thread");
    expect_refused({"capable", "-c", "/nonexistent-cgroup"}, 1, "/nonexistent-cgroup");
}

TEST(Capable, NothingRemainsAfterSigint) {
    expect_cleanup({"capable"}, SIGINT);
}

TEST(Capable, NothingRemainsAfterSigterm) {
    expect_cleanup({"capable", "-u", "cgroup", "-x"}, SIGTERM);
}
