// slabratetop on the real kernel: a child opens and closes a file 2000 times, and every open
// allocates a struct file from the "filp" cache; slabratetop -p CHILD must count them.
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <strings.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

constexpr int opens = 2000;

void open_close(int times) {
    for (int i = 0; i < times; i++) {
        int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            ::_exit(10);
        ::close(fd);
    }
}

// The object size of a cache, from /proc/slabinfo (its <objsize> column: kmem_cache::size).
std::uint64_t slab_object_size(const std::string& cache) {
    std::ifstream in("/proc/slabinfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string name;
        std::uint64_t active, total, size;
        if (fields >> name >> active >> total >> size && name == cache)
            return size;
    }
    return 0;
}

struct CacheTotal {
    std::uint64_t allocs = 0, bytes = 0;
};

// Sums a cache's rows over every interval of a --json run.
CacheTotal total_of(const std::vector<json>& intervals, const std::string& cache) {
    CacheTotal total;
    for (const auto& interval : intervals)
        for (const auto& row : interval["caches"])
            if (row["name"] == cache) {
                total.allocs += row["allocs"].get<std::uint64_t>();
                total.bytes += row["bytes"].get<std::uint64_t>();
            }
    return total;
}

} // namespace

TEST(Slabratetop, CountsTheFilpAllocationsOfAChild) {
    Child child([] { open_close(opens); }, /*exit_after=*/true);
    ToolRun run = run_around(
        {"slabratetop", "--json", "-C", "-p", std::to_string(child.pid()), "1"}, let_run({&child}));
    ASSERT_FALSE(run.lines.empty()) << run.err;
    for (const auto& interval : run.lines) {
        EXPECT_EQ(interval["dropped"], 0);
        EXPECT_EQ(interval["interval_s"], 1);
        EXPECT_GT(interval["time_unix_ns"].get<std::int64_t>(), 0);
    }
    CacheTotal filp = total_of(run.lines, "filp");
    // Every open allocated one struct file; -p keeps the count to the child's own (its exit
    // and the loop's other calls allocate a few more).
    EXPECT_GE(filp.allocs, static_cast<std::uint64_t>(opens)) << run.out;
    EXPECT_LE(filp.allocs, static_cast<std::uint64_t>(opens) + 50) << run.out;
    const std::uint64_t size = slab_object_size("filp");
    if (size) {
        EXPECT_EQ(filp.bytes, filp.allocs * size);
    }
}

// The classic tracepoint counts the same allocations, from the record's name and bytes_alloc.
TEST(Slabratetop, ClassicTracepointFallback) {
    Child child([] { open_close(opens); }, /*exit_after=*/true);
    ToolRun run =
        run_around({"slabratetop", "--json", "-v", "-C", "-p", std::to_string(child.pid()), "1"},
                   let_run({&child}), {.disable = "raw_tp"});
    EXPECT_NE(run.err.find("using tp/kmem/kmem_cache_alloc"), std::string::npos) << run.err;
    CacheTotal filp = total_of(run.lines, "filp");
    EXPECT_GE(filp.allocs, static_cast<std::uint64_t>(opens)) << run.out;
    EXPECT_LE(filp.allocs, static_cast<std::uint64_t>(opens) + 50) << run.out;
    const std::uint64_t size = slab_object_size("filp");
    if (size) {
        EXPECT_EQ(filp.bytes, filp.allocs * size);
    }
}

// -r limits the rows, -s sorts them; both apply to each interval.
TEST(Slabratetop, RowsAndSort) {
    Child by_count_child([] { open_close(opens); }, /*exit_after=*/true);
    ToolRun by_count = run_around({"slabratetop", "--json", "-r", "3", "-s", "count", "-p",
                                   std::to_string(by_count_child.pid()), "1"},
                                  let_run({&by_count_child}));
    bool saw_filp_first = false;
    for (const auto& interval : by_count.lines) {
        const auto& caches = interval["caches"];
        EXPECT_LE(caches.size(), 3u);
        for (std::size_t i = 1; i < caches.size(); i++)
            EXPECT_GE(caches[i - 1]["allocs"].get<std::uint64_t>(),
                      caches[i]["allocs"].get<std::uint64_t>());
        if (!caches.empty() && caches[0]["name"] == "filp")
            saw_filp_first = true; // 2000 opens: the child's most frequent allocation
    }
    EXPECT_TRUE(saw_filp_first) << by_count.out;

    // System-wide; the test's own opens make sure the interval has allocations (a quiet
    // machine can go a second without a kmem_cache_alloc outside kmalloc).
    ToolRun by_name = run_around({"slabratetop", "--json", "-r", "50", "-s", "name", "1", "1"},
                                 [] { open_close(opens); }, {.ends_itself = true});
    ASSERT_EQ(by_name.lines.size(), 1u) << by_name.out; // count 1: one interval, then it ends
    const auto& caches = by_name.lines[0]["caches"];
    EXPECT_FALSE(caches.empty()) << by_name.out;
    for (std::size_t i = 1; i < caches.size(); i++)
        EXPECT_LE(strcasecmp(caches[i - 1]["name"].get<std::string>().c_str(),
                             caches[i]["name"].get<std::string>().c_str()),
                  0);
}

// Text output: the loadavg line, libbpf-tools' header, a filp row.
TEST(Slabratetop, TextOutput) {
    Child child([] { open_close(opens); }, /*exit_after=*/true);
    ToolRun run = run_around({"slabratetop", "-C", "-p", std::to_string(child.pid()), "1"},
                             let_run({&child}));
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(run.out.find("\033["), std::string::npos); // -C: no clearing
    EXPECT_NE(run.out.find(" loadavg: "), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("CACHE                            ALLOCS      BYTES\n"),
              std::string::npos)
        << run.out;
    EXPECT_NE(run.out.find("\nfilp                             "), std::string::npos) << run.out;
}

TEST(Slabratetop, BadInput) {
    expect_refused({"slabratetop", "-p", "999999"}, 1, "999999");
    expect_refused({"slabratetop", "-s", "bytes"}, 2, "bytes");
    expect_refused({"slabratetop", "-r", "0"}, 2, "0");
    expect_refused({"slabratetop", "0"}, 2, "interval");
}

TEST(Slabratetop, NothingRemainsAfterCountReached) {
    expect_cleanup({"slabratetop", "-C", "1", "1"}, 0);
}

TEST(Slabratetop, NothingRemainsAfterSigterm) {
    expect_cleanup({"slabratetop", "--json", "-s", "name"}, SIGTERM);
}
