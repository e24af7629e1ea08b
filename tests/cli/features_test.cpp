// `coretrace features` against what the machine itself says: sysctls from /proc, BTF and the
// kprobe/uprobe PMUs from sysfs, and the hook each tool picks (which follows CORETRACE_DISABLE).
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

using namespace coretrace::test;

namespace {
nlohmann::json features_json(const std::string& disable = "") {
    auto r = run({coretrace_binary(), "features", "--json"}, std::chrono::seconds(30), [&] {
        if (!disable.empty())
            ::setenv("CORETRACE_DISABLE", disable.c_str(), 1);
    });
    EXPECT_EQ(r.code, 0) << r.err;
    auto lines = json_lines(r.out);
    EXPECT_EQ(lines.size(), 1u);
    return lines.empty() ? nlohmann::json{} : lines[0];
}
bool exists(const char* path) {
    return ::access(path, R_OK) == 0;
}
} // namespace

TEST(Features, AgreesWithTheMachine) {
    auto f = features_json();
    EXPECT_EQ(f["mechanisms"]["kernel_btf"]["supported"], exists("/sys/kernel/btf/vmlinux"));
    bool kprobes = exists("/sys/bus/event_source/devices/kprobe/type") ||
                   exists("/sys/kernel/tracing/kprobe_events");
    EXPECT_EQ(f["mechanisms"]["kprobe"]["supported"], kprobes);
    bool uprobes = exists("/sys/bus/event_source/devices/uprobe/type") ||
                   exists("/sys/kernel/tracing/uprobe_events");
    EXPECT_EQ(f["mechanisms"]["uprobe"]["supported"], uprobes);
    EXPECT_TRUE(f["mechanisms"]["tracepoint"]["supported"]);
    EXPECT_TRUE(f["mechanisms"]["raw_tp"]["supported"]);
    for (const auto& [name, m] : f["mechanisms"].items())
        EXPECT_FALSE(m["reason"].get<std::string>().empty()) << name;

    std::ifstream jit("/proc/sys/net/core/bpf_jit_enable");
    int jit_enable = -1;
    jit >> jit_enable;
    EXPECT_EQ(f["sysctls"]["net.core.bpf_jit_enable"], jit_enable);
    std::ifstream unpriv("/proc/sys/kernel/unprivileged_bpf_disabled");
    int unprivileged = -1;
    unpriv >> unprivileged;
    EXPECT_EQ(f["sysctls"]["kernel.unprivileged_bpf_disabled"], unprivileged);
    EXPECT_TRUE(f["capabilities"]["CAP_BPF"] || f["capabilities"]["CAP_SYS_ADMIN"]);
}

TEST(Features, ToolsHooksFollowTheKernelAndTheUser) {
    auto f = features_json();
    EXPECT_EQ(f["tools"]["cpudist"]["sched_switch"], "raw_tp/sched_switch");
    EXPECT_EQ(f["tools"]["hello"]["write(2) entry"], "tp/syscalls/sys_enter_write");
    auto fallback = features_json("raw_tp");
    EXPECT_EQ(fallback["tools"]["cpudist"]["sched_switch"], "tp_btf/sched_switch");
    EXPECT_FALSE(fallback["mechanisms"]["raw_tp"]["supported"]);
    auto none = features_json("raw_tp,tp_btf,tracepoint");
    EXPECT_TRUE(none["tools"]["cpudist"]["sched_switch"].is_null());
    EXPECT_TRUE(none["tools"]["hello"]["write(2) entry"].is_null());
}

TEST(Features, TextHasEverySection) {
    auto r = run({coretrace_binary(), "features"});
    ASSERT_EQ(r.code, 0) << r.err;
    for (const char* needle :
         {"Mechanisms (each tested", "BPF sysctls:", "Capabilities of the caller",
          "Tools (the hook each would use here", "  cpudist ", "uses raw_tp/sched_switch"})
        EXPECT_NE(r.out.find(needle), std::string::npos) << needle << "\n" << r.out;
}
