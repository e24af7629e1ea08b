// Hook choice logic with fake probe results (no kernel involved).
#include "coretrace/error.hpp"
#include "coretrace/hooks.hpp"

#include <gtest/gtest.h>
#include <map>

using namespace coretrace;
using namespace coretrace::hooks;

namespace {
class FakeProber : public Prober {
  public:
    std::map<std::string, bool> answers;
    std::vector<std::string> asked;
    features::Support probe(const Hook& hook) override {
        asked.push_back(hook.describe());
        bool ok = answers[hook.describe()];
        return {ok, ok ? "fake yes" : "fake no for " + hook.describe()};
    }
};

std::vector<Hook> hooks_of(std::initializer_list<const char*> sections) {
    std::vector<Hook> out;
    for (auto s : sections)
        out.push_back(Hook::from_section(s));
    return out;
}
} // namespace

TEST(HookParsing, SectionNamesBecomeKindAndTarget) {
    EXPECT_EQ(Hook::from_section("tp_btf/sched_switch").kind, Kind::tp_btf);
    EXPECT_EQ(Hook::from_section("tp_btf/sched_switch").target, "sched_switch");
    auto tp = Hook::from_section("tp/syscalls/sys_enter_write");
    EXPECT_EQ(tp.kind, Kind::tracepoint);
    EXPECT_EQ(tp.target, "syscalls:sys_enter_write");
    EXPECT_EQ(tp.describe(), "tp/syscalls/sys_enter_write");
    EXPECT_EQ(Hook::from_section("tracepoint/sched/sched_wakeup").describe(),
              "tp/sched/sched_wakeup");
    EXPECT_EQ(Hook::from_section("kretprobe/vfs_read").kind, Kind::kretprobe);
    EXPECT_EQ(Hook::from_section("raw_tracepoint/sched_switch").kind, Kind::raw_tp);
    EXPECT_EQ(Hook::from_section("fexit/do_unlinkat").describe(), "fexit/do_unlinkat");
    EXPECT_EQ(Hook::from_section("uprobe/libc.so.6:malloc").kind, Kind::other);
}

TEST(HookChoice, FirstSupportedWinsAndEarlierOnesAreExplained) {
    FakeProber prober;
    prober.answers = {{"fentry/vfs_read", false},
                      {"kprobe/vfs_read", false},
                      {"tp/syscalls/sys_enter_read", true}};
    auto choice = choose(
        "read", hooks_of({"fentry/vfs_read", "kprobe/vfs_read", "tp/syscalls/sys_enter_read"}),
        prober);
    EXPECT_EQ(choice.index, 2u);
    EXPECT_EQ(choice.hook.describe(), "tp/syscalls/sys_enter_read");
    EXPECT_EQ(choice.reason, "fake yes");
    ASSERT_EQ(choice.passed_over.size(), 2u);
    EXPECT_EQ(choice.passed_over[0].second, "fake no for fentry/vfs_read");
}

TEST(HookChoice, StopsProbingAtTheFirstSupportedHook) {
    FakeProber prober;
    prober.answers = {{"tp_btf/sched_switch", true}, {"raw_tp/sched_switch", true}};
    auto choice =
        choose("sched_switch", hooks_of({"tp_btf/sched_switch", "raw_tp/sched_switch"}), prober);
    EXPECT_EQ(choice.index, 0u);
    EXPECT_EQ(prober.asked, std::vector<std::string>{"tp_btf/sched_switch"});
}

TEST(HookChoice, NoneSupportedIsOneErrorWithEveryReason) {
    FakeProber prober;
    try {
        choose("sched_switch", hooks_of({"tp_btf/sched_switch", "raw_tp/sched_switch"}), prober);
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("no hook for sched_switch"), std::string::npos) << what;
        EXPECT_NE(what.find("tp_btf/sched_switch: fake no for tp_btf/sched_switch"),
                  std::string::npos);
        EXPECT_NE(what.find("raw_tp/sched_switch: fake no"), std::string::npos);
        EXPECT_EQ(what.find('\n'), std::string::npos) << "one line";
        EXPECT_EQ(e.error_number(), EOPNOTSUPP);
    }
}
