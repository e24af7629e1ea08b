// numamove on the real kernel. This machine has one NUMA node, so NUMA balancing never migrates
// a page: the NUMA-only case is skipped there. What can be made to happen is compaction: a child
// leaves 64 MiB of memory full of holes, the test asks the kernel to compact all memory
// (/proc/sys/vm/compact_memory, a one-shot trigger, not a setting), and every migrate_pages()
// call of that compaction passes through the tracepoints that numamove -a counts.
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <thread>
#include <fstream>
#include <memory>
#include <sys/mman.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

std::uint64_t vmstat(const std::string& name) {
    std::ifstream in("/proc/vmstat");
    std::string key;
    std::uint64_t value;
    while (in >> key >> value)
        if (key == name)
            return value;
    return 0;
}

int numa_nodes() {
    int nodes = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/sys/devices/system/node", ec))
        if (entry.path().filename().string().starts_with("node"))
            nodes++;
    return nodes;
}

// 64 MiB touched, then every other page given back: movable pages with holes between them.
void fragment() {
    constexpr std::size_t bytes = 64u << 20;
    char* memory = static_cast<char*>(
        ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (memory == MAP_FAILED)
        ::_exit(10);
    for (std::size_t at = 0; at < bytes; at += 4096)
        memory[at] = 1;
    for (std::size_t at = 0; at < bytes; at += 8192)
        ::madvise(memory + at, 4096, MADV_DONTNEED);
}

struct Totals {
    std::uint64_t migrations = 0, succeeded = 0, latency_samples = 0, latency_ns = 0;
    std::uint64_t compaction = 0;
};

Totals sum(const std::vector<json>& lines) {
    Totals t;
    for (const auto& line : lines) {
        t.migrations += line["migrations"].get<std::uint64_t>();
        t.succeeded += line["pages_succeeded"].get<std::uint64_t>();
        t.latency_samples += line["latency_samples"].get<std::uint64_t>();
        t.latency_ns += line["latency_ns"].get<std::uint64_t>();
        if (line["reasons"].contains("compaction"))
            t.compaction += line["reasons"]["compaction"]["migrations"].get<std::uint64_t>();
    }
    return t;
}

} // namespace

// Compaction's migrations are counted with -a, and not at all by default (NUMA misplaced only).
TEST(Numamove, AllReasonsCountsCompactionAndDefaultDoesNot) {
    if (!std::filesystem::exists("/proc/sys/vm/compact_memory"))
        GTEST_SKIP() << "no /proc/sys/vm/compact_memory (kernel without CONFIG_COMPACTION)";
    if (numa_nodes() > 1)
        GTEST_SKIP() << "NUMA balancing may migrate pages here too: the default-mode check "
                        "assumes one node";
    Subprocess all({coretrace_binary(), "numamove", "--json", "-a"});
    Subprocess numa({coretrace_binary(), "numamove", "--json"});
    ASSERT_TRUE(all.wait_for("Hit Ctrl-C")) << all.err();
    ASSERT_TRUE(numa.wait_for("Hit Ctrl-C")) << numa.err();

    // Whether compaction finds pages to move depends on where free memory is: right after a
    // full compaction there may be none. Up to three rounds of fresh holes and compaction.
    std::vector<std::unique_ptr<Child>> children;
    const std::uint64_t before = vmstat("pgmigrate_success");
    std::uint64_t after = before;
    for (int round = 0; round < 3 && after == before; round++) {
        children.push_back(std::make_unique<Child>(fragment, /*exit_after=*/false));
        children.back()->go();
        ASSERT_TRUE(children.back()->wait_done());
        std::ofstream compact("/proc/sys/vm/compact_memory");
        compact << "1";
        compact.close(); // the write returns once compaction is done
        after = vmstat("pgmigrate_success");
    }
    all.signal(SIGINT);
    numa.signal(SIGINT);
    ASSERT_EQ(all.wait(20s), 0) << all.err();
    ASSERT_EQ(numa.wait(20s), 0) << numa.err();
    if (after == before)
        GTEST_SKIP() << "three compactions migrated no page (memory already compact)";

    const Totals every = sum(json_lines(all.out()));
    // Every page the kernel counted as migrated while the test watched went through a
    // migrate_pages() call that -a counted (the tool watched longer, so it may count more).
    EXPECT_GE(every.succeeded, after - before) << all.out();
    EXPECT_GT(every.compaction, 0u) << all.out();
    EXPECT_GT(every.latency_samples, 0u) << all.out();
    EXPECT_GT(every.latency_ns, 0u) << all.out();
    EXPECT_LE(every.latency_samples, every.migrations);

    // One node: nothing is ever NUMA misplaced, so the default mode counts nothing.
    const auto numa_lines = json_lines(numa.out());
    ASSERT_FALSE(numa_lines.empty());
    const Totals misplaced = sum(numa_lines);
    EXPECT_EQ(misplaced.migrations, 0u) << numa.out();
    for (const auto& line : numa_lines)
        EXPECT_EQ(line["all_reasons"], false);
}

TEST(Numamove, NumaMisplacedMigrations) {
    if (numa_nodes() < 2)
        GTEST_SKIP() << "one NUMA node: NUMA balancing never migrates a page on this machine";
    GTEST_SKIP() << "a NUMA-balancing workload is not written yet";
}

// One line per second in libbpf-tools' columns.
TEST(Numamove, TextOutputPerSecond) {
    Subprocess tool({coretrace_binary(), "numamove"});
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    ASSERT_TRUE(tool.wait_for("\n", 5s));
    std::this_thread::sleep_for(2500ms);
    tool.signal(SIGINT);
    ASSERT_EQ(tool.wait(20s), 0) << tool.err();
    std::istringstream lines(tool.out());
    std::string line;
    std::getline(lines, line);
    EXPECT_EQ(line, "Tracing NUMA misplaced page migrations... Hit Ctrl-C to end.");
    std::getline(lines, line);
    EXPECT_EQ(line, "TIME          NUMA_migrations NUMA_migrations_ms");
    int rows = 0;
    while (std::getline(lines, line)) {
        EXPECT_EQ(line.size(), 10u + 1 + 18 + 1 + 18) << line;
        rows++;
    }
    EXPECT_GE(rows, 2); // 2.5 s: two full seconds and the last partial one
    EXPECT_LE(rows, 4);
}

TEST(Numamove, BadInput) {
    expect_refused({"numamove", "-p", "1"}, 2, "-p");
    expect_refused({"numamove", "5"}, 2, "5");
}

TEST(Numamove, NothingRemainsAfterSigint) {
    expect_cleanup({"numamove", "-a"}, SIGINT);
}

TEST(Numamove, NothingRemainsAfterSigterm) {
    expect_cleanup({"numamove", "--json"}, SIGTERM);
}
