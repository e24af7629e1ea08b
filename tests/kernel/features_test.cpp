// Feature probes and hook choice against this kernel's own ground truth.
#include "coretrace/features.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/kernel_btf.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

using namespace coretrace;

TEST(Features, TracepointsAndRawTracepointsWork) {
    EXPECT_TRUE(features::tracepoint("sched", "sched_switch"))
        << features::tracepoint("sched", "sched_switch").reason;
    EXPECT_FALSE(features::tracepoint("sched", "no_such_event"));
    EXPECT_TRUE(features::raw_tracepoint("sched_switch"))
        << features::raw_tracepoint("sched_switch").reason;
    EXPECT_FALSE(features::raw_tracepoint("no_such_event"));
}

TEST(Features, TpBtfFollowsKernelBtf) {
    if (::access(btf::vmlinux_path, R_OK) != 0) {
        EXPECT_FALSE(features::tp_btf("sched_switch"));
        return;
    }
    EXPECT_TRUE(
        btf::find_type_id(btf::vmlinux_path, "btf_trace_sched_switch", btf::Kind::typedef_));
    EXPECT_TRUE(features::tp_btf("sched_switch")) << features::tp_btf("sched_switch").reason;
    auto missing = features::tp_btf("no_such_event");
    EXPECT_FALSE(missing);
    EXPECT_NE(missing.reason.find("btf_trace_no_such_event"), std::string::npos);
}

TEST(Features, KprobeAnswerMatchesThePmu) {
    bool pmu = ::access("/sys/bus/event_source/devices/kprobe/type", R_OK) == 0;
    bool events = ::access((features::tracefs_root() + "/kprobe_events").c_str(), R_OK) == 0;
    EXPECT_EQ(static_cast<bool>(features::kprobe()), pmu || events);
}

TEST(Features, FentryTellsMissingBtfFunctionFromRefusedMechanism) {
    // __x64_sys_getpid is a symbol but not a BTF function on common kernels.
    auto not_btf = features::fentry("coretrace_no_such_function");
    EXPECT_FALSE(not_btf);
    EXPECT_NE(not_btf.reason.find("not a BTF function"), std::string::npos) << not_btf.reason;
    auto vfs_read = features::fentry("vfs_read");
    if (!vfs_read) { // refused here: the reason must name the mechanism, not the function's BTF
        EXPECT_NE(vfs_read.reason.find("refuses fentry"), std::string::npos) << vfs_read.reason;
    }
}

TEST(Features, RingBufferAndUserOverride) {
    EXPECT_TRUE(features::ring_buffer());
    ::setenv("CORETRACE_DISABLE", "kprobe,ringbuf", 1);
    EXPECT_FALSE(features::ring_buffer());
    EXPECT_FALSE(features::kprobe());
    EXPECT_TRUE(features::raw_tracepoint("sched_switch"));
    ::unsetenv("CORETRACE_DISABLE");
}

TEST(Hooks, KernelProberPrefersTpBtfForSchedSwitchHere) {
    std::vector<hooks::Hook> candidates = {hooks::Hook::from_section("tp_btf/sched_switch"),
                                           hooks::Hook::from_section("raw_tp/sched_switch")};
    auto choice = hooks::choose("sched_switch", candidates, hooks::kernel_prober());
    EXPECT_EQ(choice.hook.describe(),
              features::tp_btf("sched_switch") ? "tp_btf/sched_switch" : "raw_tp/sched_switch");
}
