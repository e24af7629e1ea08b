// memleak: the outstanding allocations of our target (tests/progs/memleak_target.c) are
// reported exactly, by stack (7 x 4096 bytes from leak_some, 3000 bytes from calloc_realloc's
// realloc, 2 x 512 from align_some), freed memory is not, -o hides young allocations, -C gives
// the same totals, -t shows each call, -c runs a command; kernel mode sees the allocations of
// pipes a child holds open; bad input is refused in one line; nothing remains after exit.
#include "json_lines.hpp"
#include "subprocess.hpp"
#include "tool_run.hpp"

#include <csignal>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace coretrace::test;

namespace {

const std::string kTarget = MEMLEAK_TARGET_BINARY;
// An interval no test reaches: the one report is the last one, made at SIGINT.
const std::string kLongInterval = "600";

std::unique_ptr<Subprocess> start_memleak_target() {
    auto target = std::make_unique<Subprocess>(std::vector<std::string>{kTarget});
    EXPECT_TRUE(target->wait_for("ready ")) << target->err();
    return target;
}

// Lets the target allocate, and waits until it has.
std::function<void()> let_leak(Subprocess& target) {
    return [&target] {
        target.signal(SIGUSR1);
        EXPECT_TRUE(target.wait_for("leaked")) << target.err();
    };
}

// The stacks of the last report (the last JSON line with "stacks").
nlohmann::json last_stacks(const ToolRun& run) {
    for (auto it = run.lines.rbegin(); it != run.lines.rend(); ++it)
        if (it->contains("stacks"))
            return (*it)["stacks"];
    ADD_FAILURE() << "no report in: " << run.out << run.err;
    return nlohmann::json::array();
}

// (bytes, allocations) of each stack.
std::multiset<std::pair<long, long>> totals(const nlohmann::json& stacks) {
    std::multiset<std::pair<long, long>> out;
    for (const auto& s : stacks)
        out.insert({s["bytes"].get<long>(), s["allocations"].get<long>()});
    return out;
}

const std::multiset<std::pair<long, long>> kLeaks = {{7 * 4096, 7}, {3000, 1}, {2 * 512, 2}};

bool names_function(const nlohmann::json& stack, const std::string& function) {
    for (const auto& frame : stack["frames"])
        if (frame["function"] == function)
            return true;
    return false;
}

const nlohmann::json* stack_with_bytes(const nlohmann::json& stacks, long bytes) {
    for (const auto& s : stacks)
        if (s["bytes"] == bytes)
            return &s;
    return nullptr;
}

} // namespace

TEST(Memleak, ReportsExactlyTheLeakedBytesByStack) {
    auto target = start_memleak_target();
    auto run =
        run_around({"memleak", "--json", "-a", "-p", std::to_string(target->pid()), kLongInterval},
                   let_leak(*target));
    const auto stacks = last_stacks(run);
    EXPECT_EQ(totals(stacks), kLeaks) << stacks.dump(1);
    // Biggest first; -a lists each block of a stack.
    ASSERT_EQ(stacks.size(), 3u);
    EXPECT_EQ(stacks[0]["bytes"], 7 * 4096);
    EXPECT_EQ(stacks[1]["bytes"], 3000);
    EXPECT_EQ(stacks[2]["bytes"], 1024);
    ASSERT_EQ(stacks[0]["allocs"].size(), 7u);
    std::set<unsigned long> addresses;
    for (const auto& block : stacks[0]["allocs"]) {
        EXPECT_EQ(block["size"], 4096);
        addresses.insert(block["address"].get<unsigned long>());
    }
    EXPECT_EQ(addresses.size(), 7u);
    // Each stack is named after the function that allocated (the target keeps its frame
    // pointers).
    EXPECT_TRUE(names_function(stacks[0], "leak_some")) << stacks[0].dump(1);
    EXPECT_TRUE(names_function(stacks[1], "calloc_realloc")) << stacks[1].dump(1);
    EXPECT_TRUE(names_function(stacks[2], "align_some")) << stacks[2].dump(1);
    EXPECT_TRUE(names_function(stacks[0], "main")) << stacks[0].dump(1);
    EXPECT_EQ(run.lines.back()["mode"], "user");
    EXPECT_EQ(run.lines.back()["pid"], target->pid());
}

TEST(Memleak, FreedMemoryIsNotReported) {
    auto target = start_memleak_target();
    auto run =
        run_around({"memleak", "--json", "-p", std::to_string(target->pid()), kLongInterval}, [&] {
            let_leak (*target)();
            target->signal(SIGUSR1);
            EXPECT_TRUE(target->wait_for("freed")) << target->err();
        });
    const auto stacks = last_stacks(run);
    EXPECT_TRUE(stacks.empty()) << stacks.dump(1);
}

TEST(Memleak, OlderHidesYoungAllocations) {
    {
        auto target = start_memleak_target();
        auto run = run_around({"memleak", "--json", "-o", "600000", "-p",
                               std::to_string(target->pid()), kLongInterval},
                              let_leak(*target));
        EXPECT_TRUE(last_stacks(run).empty()) << run.out;
    }
    auto target = start_memleak_target();
    auto run = run_around(
        {"memleak", "--json", "-o", "500", "-p", std::to_string(target->pid()), kLongInterval},
        [&] {
            let_leak (*target)();
            std::this_thread::sleep_for(800ms);
        });
    EXPECT_EQ(totals(last_stacks(run)), kLeaks) << run.out;
}

TEST(Memleak, SizeFiltersKeepOnlyTheirRange) {
    // -z 2000 -Z 3500: of 4096, 3000, 1000 and 512 bytes, only realloc's 3000.
    auto target = start_memleak_target();
    auto run = run_around({"memleak", "--json", "-z", "2000", "-Z", "3500", "-p",
                           std::to_string(target->pid()), kLongInterval},
                          let_leak(*target));
    const std::multiset<std::pair<long, long>> expected = {{3000, 1}};
    EXPECT_EQ(totals(last_stacks(run)), expected) << run.out;
}

TEST(Memleak, CombinedOnlyGivesTheSameTotals) {
    auto target = start_memleak_target();
    auto run = run_around({"memleak", "--json", "--combined-only", "-p",
                           std::to_string(target->pid()), kLongInterval},
                          [&] {
                              let_leak (*target)();
                              // Frees and reallocations are subtracted from their stacks.
                              target->signal(SIGUSR1);
                              EXPECT_TRUE(target->wait_for("freed")) << target->err();
                          });
    EXPECT_TRUE(last_stacks(run).empty()) << run.out;

    auto leaking = start_memleak_target();
    auto leak_run =
        run_around({"memleak", "--json", "-C", "-p", std::to_string(leaking->pid()), kLongInterval},
                   let_leak(*leaking));
    EXPECT_EQ(totals(last_stacks(leak_run)), kLeaks) << leak_run.out;
}

TEST(Memleak, TextReportBiggestFirst) {
    auto target = start_memleak_target();
    auto run =
        run_around({"memleak", "-T", "2", "-p", std::to_string(target->pid()), kLongInterval},
                   let_leak(*target));
    EXPECT_TRUE(std::regex_search(
        run.out,
        std::regex("\\[\\d\\d:\\d\\d:\\d\\d\\] Top 2 stacks with outstanding allocations:")))
        << run.out;
    const auto big = run.out.find("28672 bytes in 7 allocations from stack\n");
    const auto realloc = run.out.find("3000 bytes in 1 allocations from stack\n");
    ASSERT_NE(big, std::string::npos) << run.out;
    ASSERT_NE(realloc, std::string::npos) << run.out;
    EXPECT_LT(big, realloc);
    EXPECT_EQ(run.out.find("1024 bytes in 2 allocations"), std::string::npos) << run.out; // -T 2
    EXPECT_TRUE(
        std::regex_search(run.out, std::regex("\t\\d+ \\[<[0-9a-f]{16}>\\] leak_some\\+0x")))
        << run.out;
}

TEST(Memleak, TraceShowsEachCall) {
    auto target = start_memleak_target();
    auto run =
        run_around({"memleak", "--json", "-t", "-p", std::to_string(target->pid()), kLongInterval},
                   let_leak(*target));
    std::map<std::pair<std::string, long>, int> calls;
    int records = 0;
    for (const auto& record : run.lines)
        if (record.contains("op")) {
            EXPECT_EQ(record["pid"], target->pid());
            calls[{record["op"], record["size"].get<long>()}]++;
            records++;
        }
    // The records, then the last report, then the summary: every record delivered, none lost.
    ASSERT_GE(run.lines.size(), 2u);
    const auto& summary = run.lines.back();
    EXPECT_EQ(summary["type"], "summary") << summary;
    EXPECT_EQ(summary["lost"], 0) << summary;
    EXPECT_EQ(summary["events"], records) << summary;
    EXPECT_TRUE(run.lines[run.lines.size() - 2].contains("stacks"));
    EXPECT_NE(run.err.find("\n0 events lost\n"), std::string::npos) << run.err;
    // churn's 20 blocks, calloc(10, 100) (freed by realloc) and calloc(4, 250), all 1000 bytes.
    const std::map<std::pair<std::string, long>, int> expected = {{{"alloc", 4096}, 7},
                                                                  {{"alloc", 1000}, 22},
                                                                  {{"free", 1000}, 22},
                                                                  {{"alloc", 3000}, 1},
                                                                  {{"alloc", 512}, 2}};
    EXPECT_EQ(calls, expected) << run.out;
}

TEST(Memleak, CommandIsRunAndTraced) {
    // -c: memleak starts the target, traces it from its first instruction and ends with it.
    // Its stacks still resolve after it exits.
    RunOptions ends;
    ends.ends_itself = true;
    auto run = run_around(
        {"memleak", "--json", "-c", kTarget + " auto", kLongInterval}, [] {}, ends);
    const auto stacks = last_stacks(run);
    const auto* leak = stack_with_bytes(stacks, 7 * 4096);
    ASSERT_NE(leak, nullptr) << stacks.dump(1);
    EXPECT_EQ((*leak)["allocations"], 7);
    EXPECT_TRUE(names_function(*leak, "leak_some")) << leak->dump(1);
}

TEST(Memleak, KernelModeSeesPipesHeldOpen) {
    // Each pipe(2) allocates its pipe_inode_info, its buffer array, an inode, a dentry and two
    // files; a child holds 64 pipes open, so at least 64 allocations whose stacks pass through
    // pipe(2) are outstanding (other processes' pipes can only add to them).
    constexpr int kPipes = 64;
    Child holder([] {
        for (int i = 0; i < kPipes; i++) {
            int fds[2];
            if (pipe(fds) != 0)
                _exit(1);
        }
    });
    auto run = run_around({"memleak", "--json", "-T", "100000", kLongInterval}, let_run({&holder}));
    const auto stacks = last_stacks(run);
    ASSERT_FALSE(stacks.empty()) << run.out;
    long pipe_allocations = 0, previous = -1;
    for (const auto& s : stacks) {
        EXPECT_GT(s["bytes"].get<long>(), 0);
        EXPECT_GT(s["allocations"].get<long>(), 0);
        if (previous >= 0) {
            EXPECT_LE(s["bytes"].get<long>(), previous); // biggest first
        }
        previous = s["bytes"];
        // pipe(2)'s own allocations: its pipe_inode_info, buffer array, inode, dentry and files.
        if (names_function(s, "create_pipe_files") || names_function(s, "do_pipe2") ||
            names_function(s, "__x64_sys_pipe"))
            pipe_allocations += s["allocations"].get<long>();
    }
    EXPECT_GE(pipe_allocations, kPipes) << stacks.dump(1).substr(0, 4000);
    EXPECT_EQ(run.lines.back()["mode"], "kernel");
}

TEST(Memleak, KernelModeTopLimitsStacks) {
    auto run = run_around({"memleak", "--json", "-T", "3", kLongInterval},
                          [] { std::this_thread::sleep_for(300ms); });
    const auto stacks = last_stacks(run);
    EXPECT_LE(stacks.size(), 3u);
    EXPECT_FALSE(stacks.empty()) << run.out;
}

TEST(Memleak, BadInputIsRefusedInOneLine) {
    expect_refused({"memleak", "-p", "999999"}, 1, "999999");
    const std::string self = std::to_string(getpid());
    expect_refused({"memleak", "-p", self, "-O", "/no/such/libfoo.so"}, 1, "No such file");
    expect_refused({"memleak", "-p", self, "-O", "libnosuchlib.so"}, 1, "libnosuchlib.so");
    expect_refused({"memleak", "-z", "100", "-Z", "10"}, 1, "min size");
    expect_refused({"memleak", "-p", self, "-c", "true"}, 1, "both");
    expect_refused({"memleak", "-c", "/no/such/program --flag"}, 1, "no such program");
    expect_refused({"memleak", "-T", "0"}, 2);
}

TEST(Memleak, NothingRemainsAfterExit) {
    expect_cleanup({"memleak"}, SIGINT, 6);
    expect_cleanup({"memleak", "-P", "1", "1"}, 0, 8); // with the percpu tracepoints
    auto target = start_memleak_target();
    expect_cleanup({"memleak", "-p", std::to_string(target->pid())}, SIGTERM, 2);
    expect_cleanup({"memleak", "-c", kTarget + " auto"}, 0, 2);
}
