// execsnoop on the real kernel: children the test forks exec /bin/true with arguments the test
// chose, or a path that does not exist; execsnoop, filtering in the kernel, must report each
// call with its path, arguments, parent and result.
#include "tool_run.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

// A token no other process on the machine passes to exec.
std::string token(const std::string& what) {
    return "ct-exec-" + what + "-" + std::to_string(::getpid());
}

// Execs `path` with argv[0] "true" and `args` (never returns: _exit(127) if exec fails).
void exec_with(const std::string& path, const std::vector<std::string>& args) {
    std::vector<char*> argv = {const_cast<char*>("true")};
    for (const auto& arg : args)
        argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
}

std::vector<std::string> strings(const json& array) {
    return array.get<std::vector<std::string>>();
}

} // namespace

// Five children exec /bin/true with distinct arguments and one execs a missing path. With -x,
// every call is reported once, with its path, arguments, PID, parent and result.
TEST(Execsnoop, ReportsEachExecWithArgsAndResult) {
    const std::string tag = token("all");
    std::vector<std::unique_ptr<Child>> children;
    for (int i = 0; i < 5; i++)
        children.push_back(std::make_unique<Child>([&, i] {
            exec_with("/bin/true", {tag, "arg " + std::to_string(i)});
        }));
    const std::string missing = "/nonexistent-" + tag + "/true";
    Child failing([&] { exec_with(missing, {tag, "missing"}); });

    ToolRun traced = run_around({"execsnoop", "--json", "-v", "-x"}, [&] {
        for (auto& child : children)
            child->go();
        failing.go();
        for (auto& child : children)
            EXPECT_EQ(child->reap(), 0);
        EXPECT_EQ(failing.reap(), 127);
    });
    const std::vector<json> records = event_records(traced);
    for (int i = 0; i < 5; i++) {
        auto found = records_with(records, "pid", children[i]->pid());
        ASSERT_EQ(found.size(), 1u) << traced.err;
        const json& r = found[0];
        EXPECT_EQ(r["filename"], "/bin/true");
        EXPECT_EQ(strings(r["args"]), (std::vector<std::string>{tag, "arg " + std::to_string(i)}));
        EXPECT_EQ(r["ret"], 0);
        EXPECT_EQ(r["errno"], 0);
        EXPECT_EQ(r["ppid"], ::getpid());
        EXPECT_EQ(r["tid"], children[i]->pid());
        EXPECT_EQ(r["uid"], ::getuid());
        EXPECT_EQ(r["comm"], "true");
        EXPECT_EQ(r["args_truncated"], false);
        EXPECT_EQ(r["more_args"], false);
        EXPECT_EQ(r["syscall"], "execve");
    }
    auto found = records_with(records, "pid", failing.pid());
    ASSERT_EQ(found.size(), 1u) << traced.err;
    EXPECT_EQ(found[0]["filename"], missing);
    EXPECT_EQ(strings(found[0]["args"]), (std::vector<std::string>{tag, "missing"}));
    EXPECT_EQ(found[0]["ret"], -ENOENT);
    EXPECT_EQ(found[0]["errno"], ENOENT);
    EXPECT_EQ(found[0]["comm"], "kernel_tests"); // a failed exec keeps the caller's name
    EXPECT_EQ(found[0]["ppid"], ::getpid());
}

// Without -x (libbpf-tools' default) failed calls are left out; -l keeps the calls whose
// arguments contain the line, system-wide.
TEST(Execsnoop, FailedLeftOutByDefaultAndLineFilter) {
    const std::string tag = token("line");
    Child ok([&] { exec_with("/bin/true", {"x" + tag + "y"}); });
    Child other([&] { exec_with("/bin/true", {"unrelated"}); });
    Child failing([&] { exec_with("/nonexistent-" + tag, {tag}); });
    ToolRun traced = run_around({"execsnoop", "--json", "-v", "-l", tag}, [&] {
        ok.go();
        other.go();
        failing.go();
        EXPECT_EQ(ok.reap(), 0);
        EXPECT_EQ(other.reap(), 0);
        EXPECT_EQ(failing.reap(), 127);
    });
    const std::vector<json> records = event_records(traced);
    ASSERT_EQ(records.size(), 1u) << traced.err;
    EXPECT_EQ(records[0]["pid"], ok.pid());
    EXPECT_EQ(strings(records[0]["args"]), std::vector<std::string>{"x" + tag + "y"});
}

// -u: a child that became user 65534 before exec is reported with that UID; a child of root
// is not.
TEST(Execsnoop, UidFilter) {
    const std::string tag = token("uid");
    Child nobody([&] {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0)
            ::_exit(3);
        exec_with("/bin/true", {tag});
    });
    Child root([&] { exec_with("/bin/true", {tag}); });
    ToolRun traced = run_around({"execsnoop", "--json", "-v", "-u", "65534"}, [&] {
        nobody.go();
        root.go();
        EXPECT_EQ(nobody.reap(), 0);
        EXPECT_EQ(root.reap(), 0);
    });
    const std::vector<json> records = event_records(traced);
    auto found = records_with(records, "pid", nobody.pid());
    ASSERT_EQ(found.size(), 1u) << traced.err;
    EXPECT_EQ(found[0]["uid"], 65534);
    EXPECT_EQ(strings(found[0]["args"]), std::vector<std::string>{tag});
    EXPECT_TRUE(records_with(records, "pid", root.pid()).empty());
    for (const auto& r : records)
        EXPECT_EQ(r["uid"], 65534) << r;
}

// An argument longer than 127 bytes is cut cleanly and flagged; more arguments than
// --max-args are left out and flagged.
TEST(Execsnoop, TruncationIsFlagged) {
    const std::string tag = token("cut");
    const std::string long_arg = tag + std::string(300, 'z');
    Child cut([&] { exec_with("/bin/true", {long_arg, "after"}); });
    Child many([&] { exec_with("/bin/true", {tag, "2", "3", "4", "5"}); });
    ToolRun traced = run_around({"execsnoop", "--json", "-v", "--max-args", "3", "-l", tag}, [&] {
        cut.go();
        many.go();
        EXPECT_EQ(cut.reap(), 0);
        EXPECT_EQ(many.reap(), 0);
    });
    const std::vector<json> records = event_records(traced);
    auto found = records_with(records, "pid", cut.pid());
    ASSERT_EQ(found.size(), 1u) << traced.err;
    EXPECT_EQ(strings(found[0]["args"]),
              (std::vector<std::string>{long_arg.substr(0, 127), "after"}));
    EXPECT_EQ(found[0]["args_truncated"], true);
    EXPECT_EQ(found[0]["more_args"], false);

    found = records_with(records, "pid", many.pid());
    ASSERT_EQ(found.size(), 1u) << traced.err;
    EXPECT_EQ(strings(found[0]["args"]), (std::vector<std::string>{tag, "2"}));
    EXPECT_EQ(found[0]["args_truncated"], false);
    EXPECT_EQ(found[0]["more_args"], true);
}

// A thread other than the leader execs: the kernel gives it the leader's PID, and the call is
// still reported, with the path and arguments read at its entry; through the raw tracepoint of
// sched_process_exec, and through the classic one when raw tracepoints are turned off.
static void exec_from_a_thread(const std::string& disable, const std::string& hook) {
    const std::string tag = token("thread");
    Child child([&] {
        std::thread worker([&] { exec_with("/bin/true", {tag}); });
        worker.join();
    });
    ToolRun traced = run_around({"execsnoop", "--json", "-v", "-l", tag},
                                [&] {
                                    child.go();
                                    EXPECT_EQ(child.reap(), 0);
                                },
                                {.disable = disable});
    const std::vector<json> records = event_records(traced);
    EXPECT_NE(traced.err.find("using " + hook), std::string::npos) << traced.err;
    ASSERT_EQ(records.size(), 1u) << traced.err;
    EXPECT_EQ(records[0]["pid"], child.pid());
    EXPECT_NE(records[0]["tid"], child.pid());
    EXPECT_EQ(records[0]["ret"], 0);
    EXPECT_EQ(records[0]["comm"], "true");
    EXPECT_EQ(strings(records[0]["args"]), std::vector<std::string>{tag});
}

TEST(Execsnoop, ExecFromAThread) {
    exec_from_a_thread("", "raw_tp/sched_process_exec");
}

TEST(Execsnoop, ExecFromAThreadClassicTracepoint) {
    exec_from_a_thread("raw_tp", "tp/sched/sched_process_exec");
}

// -n matches the new command's name, in the kernel: a link named after the test is run.
TEST(Execsnoop, NameFilter) {
    const std::string name = "ctx" + std::to_string(::getpid() % 100000);
    const std::filesystem::path link = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove(link);
    std::filesystem::create_symlink("/bin/true", link);
    Child named([&] { exec_with(link, {"named"}); });
    Child plain([&] { exec_with("/bin/true", {"plain"}); });
    ToolRun traced = run_around({"execsnoop", "--json", "-v", "-n", name}, [&] {
        named.go();
        plain.go();
        EXPECT_EQ(named.reap(), 0);
        EXPECT_EQ(plain.reap(), 0);
    });
    const std::vector<json> records = event_records(traced);
    std::filesystem::remove(link);
    ASSERT_EQ(records.size(), 1u) << traced.err;
    EXPECT_EQ(records[0]["pid"], named.pid());
    EXPECT_EQ(records[0]["comm"], name);
    EXPECT_EQ(records[0]["filename"], link.string());
}

// libbpf-tools' columns, with -U and -q.
TEST(Execsnoop, TextColumns) {
    const std::string tag = token("text");
    Child child([&] { exec_with("/bin/true", {tag, "two words"}); });
    ToolRun run = run_around({"execsnoop", "-U", "-q", "-l", tag}, [&] {
        child.go();
        EXPECT_EQ(child.reap(), 0); // it ran /bin/true
    });
    ASSERT_EQ(run.code, 0) << run.err;
    char expected[256];
    std::snprintf(expected, sizeof(expected),
                  "Tracing exec syscalls... Hit Ctrl-C to end.\n"
                  "UID    PCOMM            PID    PPID   RET ARGS\n"
                  "%-6u %-16s %-6d %-6d %3d \"/bin/true\" \"%s\" \"two words\"\n",
                  ::getuid(), "true", child.pid(), ::getpid(), 0, tag.c_str());
    EXPECT_EQ(run.out, expected);
}

TEST(Execsnoop, BadInput) {
    expect_refused({"execsnoop", "--max-args", "0"}, 2, "max-args");
    expect_refused({"execsnoop", "--max-args", "61"}, 2, "max-args");
    expect_refused({"execsnoop", "-u", "-1"}, 2, "uid");
    expect_refused({"execsnoop", "-c", "/nonexistent-cgroup"}, 1, "/nonexistent-cgroup");
    expect_refused({"execsnoop", "-l", std::string(65, 'l')}, 2, "line");
}

TEST(Execsnoop, NothingRemainsAfterSigint) {
    expect_cleanup({"execsnoop", "-x"}, SIGINT, 4);
}

TEST(Execsnoop, NothingRemainsAfterDurationWithLine) {
    expect_cleanup({"execsnoop", "-d", "1", "-l", "nothing-matches-this"}, 0, 4);
}
