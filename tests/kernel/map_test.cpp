// Typed map views against maps a real program fills: totals match the calls the test made,
// per-CPU values are unpadded correctly, clear() empties, and a view whose C++ types do not
// match the BPF declaration is refused at construction.
#include "maps_probe.skel.h"

#include "coretrace/error.hpp"
#include "coretrace/map.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/task_filter.hpp"

#include <gtest/gtest.h>
#include <numeric>
#include <sys/syscall.h>
#include <unistd.h>

using namespace coretrace;

namespace {
struct Probe {
    Skeleton<maps_probe_bpf> skel = Skeleton<maps_probe_bpf>::open();
    Probe() {
        TaskFilter filter;
        filter.tgid = ::getpid();
        filter.tid = static_cast<pid_t>(::gettid());
        filter.configure(skel->rodata);
        skel.load();
        skel.attach();
    }
};
constexpr int calls = 1234;
void make_calls() {
    for (int i = 0; i < calls; i++)
        syscall(SYS_getppid);
}
} // namespace

TEST(MapViews, CountsMatchTheCallsMade) {
    Probe probe;
    make_calls();
    probe.skel.detach();
    const auto tid = static_cast<std::uint32_t>(::gettid());

    ArrayMap<std::uint64_t> array(probe.skel->maps.calls_array);
    EXPECT_EQ(array.size(), 4u);
    EXPECT_EQ(array.at(0), static_cast<std::uint64_t>(calls));
    EXPECT_EQ(array.at(1), 0u);

    PerCpuArrayMap<std::uint32_t> percpu_array(probe.skel->maps.calls_percpu_array);
    auto per_cpu = percpu_array.lookup(0);
    ASSERT_TRUE(per_cpu);
    EXPECT_EQ(per_cpu->size(), static_cast<std::size_t>(percpu_array.cpus()));
    EXPECT_EQ(std::accumulate(per_cpu->begin(), per_cpu->end(), 0u), static_cast<unsigned>(calls));

    HashMap<std::uint32_t, std::uint64_t> by_tid(probe.skel->maps.calls_by_tid);
    auto items = by_tid.items();
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(items[0].first, tid);
    EXPECT_EQ(items[0].second, static_cast<std::uint64_t>(calls));
    EXPECT_EQ(by_tid.lookup(tid + 1), std::nullopt);

    PerCpuHashMap<std::uint32_t, std::uint64_t> by_tid_percpu(probe.skel->maps.calls_by_tid_percpu);
    auto values = by_tid_percpu.lookup(tid);
    ASSERT_TRUE(values);
    EXPECT_EQ(std::accumulate(values->begin(), values->end(), std::uint64_t{0}),
              static_cast<std::uint64_t>(calls));
    EXPECT_EQ(by_tid_percpu.keys(), std::vector<std::uint32_t>{tid});
}

TEST(MapViews, UpdateEraseAndClear) {
    Probe probe;
    probe.skel.detach();
    HashMap<std::uint32_t, std::uint64_t> map(probe.skel->maps.calls_by_tid);
    for (std::uint32_t k = 1; k <= 10; k++)
        map.update(k, k * 100);
    EXPECT_EQ(map.keys().size(), 10u);
    EXPECT_EQ(map.lookup(7), 700u);
    EXPECT_TRUE(map.erase(7));
    EXPECT_FALSE(map.erase(7));
    EXPECT_EQ(map.keys().size(), 9u);
    map.clear();
    EXPECT_TRUE(map.keys().empty());

    ArrayMap<std::uint64_t> array(probe.skel->maps.calls_array);
    array.set(3, 42);
    EXPECT_EQ(array.at(3), 42u);
    array.clear();
    EXPECT_EQ(array.at(3), 0u);

    PerCpuHashMap<std::uint32_t, std::uint64_t> percpu(probe.skel->maps.calls_by_tid_percpu);
    percpu.update_all(5, 9);
    auto values = percpu.lookup(5);
    ASSERT_TRUE(values);
    for (auto v : *values)
        EXPECT_EQ(v, 9u);
}

TEST(MapViews, MismatchedTypesAreRefusedAtConstruction) {
    auto skel = Skeleton<maps_probe_bpf>::open(); // sizes are known before load
    using Small = HashMap<std::uint32_t, std::uint32_t>;
    using WrongKind = ArrayMap<std::uint64_t>;
    EXPECT_THROW(Small{skel->maps.calls_by_tid}, Error);     // value is 8 bytes in BPF
    EXPECT_THROW(WrongKind{skel->maps.calls_by_tid}, Error); // a hash, not an array
    try {
        Small{skel->maps.calls_by_tid};
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(
                      "calls_by_tid: key/value are 4/8 bytes in BPF but 4/4 in C++"),
                  std::string::npos)
            << e.what();
    }
}
