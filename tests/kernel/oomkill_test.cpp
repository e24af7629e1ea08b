// oomkill on the real kernel: a child in a cgroup v1 memory cgroup limited to 16 MiB (no swap)
// touches 64 MiB of anonymous memory; the memory cgroup's OOM killer kills it, and oomkill must
// report that child as the victim, and as the trigger (its own page fault ran out).
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sys/mman.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

const std::filesystem::path memory_v1 = "/sys/fs/cgroup/memory";

bool write_file(const std::filesystem::path& path, const std::string& value) {
    std::ofstream out(path);
    out << value;
    out.flush();
    return static_cast<bool>(out);
}

// A memory cgroup of its own, removed (after its tasks died) when the object dies.
class MemoryCgroup {
  public:
    explicit MemoryCgroup(std::size_t limit_bytes) {
        static std::atomic<int> serial{0};
        path_ = memory_v1 / ("coretrace-oomkill-" + std::to_string(::getpid()) + "-" +
                             std::to_string(serial++));
        std::error_code ec;
        if (!std::filesystem::create_directory(path_, ec)) {
            reason_ = "cannot create " + path_.string() + ": " + ec.message();
            return;
        }
        const std::string limit = std::to_string(limit_bytes);
        if (!write_file(path_ / "memory.limit_in_bytes", limit)) {
            reason_ = "cannot set memory.limit_in_bytes";
            return;
        }
        // No swap to escape to: memory + swap limited to the same amount, where that exists.
        if (std::filesystem::exists(path_ / "memory.memsw.limit_in_bytes") &&
            !write_file(path_ / "memory.memsw.limit_in_bytes", limit)) {
            reason_ = "cannot set memory.memsw.limit_in_bytes";
            return;
        }
        write_file(path_ / "memory.swappiness", "0");
        ok_ = true;
    }
    ~MemoryCgroup() { remove(); }
    bool ok() const { return ok_; }
    const std::string& reason() const { return reason_; }
    bool add(pid_t pid) const { return write_file(path_ / "cgroup.procs", std::to_string(pid)); }
    // rmdir, retried while the dead tasks are still being released; true when gone.
    bool remove() {
        for (int i = 0; i < 100 && std::filesystem::exists(path_); i++) {
            if (::rmdir(path_.c_str()) == 0 || errno == ENOENT)
                break;
            ::usleep(20000);
        }
        return !std::filesystem::exists(path_);
    }

  private:
    std::filesystem::path path_;
    std::string reason_;
    bool ok_ = false;
};

// Touches `bytes` of fresh anonymous memory, page by page.
void touch(std::size_t bytes) {
    void* memory =
        ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
        ::_exit(10);
    volatile char* bytes_at = static_cast<volatile char*>(memory);
    for (std::size_t at = 0; at < bytes; at += 4096)
        bytes_at[at] = 1;
    ::_exit(0); // not killed: the limit did not hold
}

} // namespace

TEST(Oomkill, ReportsTheVictimOfAMemoryCgroupOom) {
    if (!std::filesystem::exists(memory_v1 / "memory.limit_in_bytes"))
        GTEST_SKIP() << "no cgroup v1 memory controller at " << memory_v1
                     << ": an OOM kill cannot be confined to a test cgroup";
    MemoryCgroup cgroup(16u << 20);
    if (!cgroup.ok())
        GTEST_SKIP() << "cannot confine an OOM kill: " << cgroup.reason();

    Child child([] { touch(64u << 20); }, /*exit_after=*/true);
    ASSERT_TRUE(cgroup.add(child.pid()));
    ToolRun run = run_around({"oomkill", "--json"}, [&] {
        child.go();
        // Killed by the OOM killer: SIGKILL.
        ASSERT_EQ(child.reap(), 128 + SIGKILL) << "the child was not OOM-killed";
        ::usleep(200000); // the record is read within 100 ms
    });
    EXPECT_TRUE(cgroup.remove()) << "the test cgroup could not be removed";

    // Other OOM kills may happen on the machine meanwhile: find the child's.
    std::vector<json> kills = records_with(event_records(run), "victim_pid", child.pid());
    ASSERT_EQ(kills.size(), 1u) << run.out;
    const json& kill = kills[0];
    EXPECT_EQ(kill["victim_comm"], "kernel_tests");
    EXPECT_EQ(kill["trigger_pid"], child.pid()); // its own page fault hit the limit
    EXPECT_EQ(kill["trigger_tid"], child.pid());
    EXPECT_EQ(kill["trigger_comm"], "kernel_tests");
    EXPECT_EQ(kill["victim_uid"], ::getuid());
    // It had filled most of the 16 MiB limit when it was killed (its RSS also counts the pages
    // it shares with the test process since fork, charged to the test's cgroup), and its
    // address space holds the 64 MiB mapping.
    const auto rss_kb = kill["anon_rss_kb"].get<std::uint64_t>();
    EXPECT_GE(rss_kb, 8u * 1024) << kill;
    EXPECT_GE(kill["total_vm_kb"].get<std::uint64_t>(), 64u * 1024) << kill;
    EXPECT_LE(rss_kb, kill["total_vm_kb"].get<std::uint64_t>()) << kill;
    EXPECT_EQ(kill["pages"].get<std::uint64_t>(),
              (kill["anon_rss_kb"].get<std::uint64_t>() + kill["file_rss_kb"].get<std::uint64_t>() +
               kill["shmem_rss_kb"].get<std::uint64_t>()) /
                  (static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) / 1024));
    EXPECT_GT(kill["ts_ns"].get<std::int64_t>(), 0);
}

TEST(Oomkill, BadInput) {
    expect_refused({"oomkill", "-p", "1"}, 2, "-p");
    expect_refused({"oomkill", "extra"}, 2, "extra");
}

TEST(Oomkill, NothingRemainsAfterSigint) {
    expect_cleanup({"oomkill"}, SIGINT);
}

TEST(Oomkill, NothingRemainsAfterSighup) {
    expect_cleanup({"oomkill", "--json"}, SIGHUP);
}
