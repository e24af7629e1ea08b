// The other half of the second kernel's check (tests/second_kernel/suite.sh, docs/testing.md):
// there, the tools whose preferred hook is a function hook (fentry/fexit, kprobe/kretprobe) must
// use it; here, where this kernel refuses both, the same tools must fall back to a tracepoint,
// for the right reason, and still report their event.
#include "coretrace/features.hpp"
#include "tool_run.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <unistd.h>

using namespace coretrace;
using namespace coretrace::test;
using nlohmann::json;

namespace {

// The tools whose hook table puts a function hook first for at least one event. A tool added
// here or losing its function hook must show up in this list's diff.
const std::set<std::string> tools_preferring_function_hooks = {
    "bindsnoop",  "cachestat", "capable",  "readahead", "solisten",  "tcpconnect",
    "tcpconnlat", "tcprtt",    "tcpsynbl", "tcptop",    "tcptracer",
};

bool function_hook(const std::string& hook) {
    for (const char* kind : {"fentry/", "fexit/", "kprobe/", "kretprobe/"})
        if (hook.starts_with(kind))
            return true;
    return false;
}

bool tracepoint_hook(const std::string& hook) {
    return hook.starts_with("tp/") || hook.starts_with("raw_tp/") || hook.starts_with("tp_btf/");
}

// This test is about a kernel like our CI's: fentry refused, no kprobes.
bool function_hooks_refused_here() {
    return !features::fentry("vfs_read") && !features::kprobe();
}

json features_json() {
    Completed done = run({coretrace_binary(), "features", "--json"});
    EXPECT_EQ(done.code, 0) << done.err;
    return json::parse(done.out);
}

} // namespace

TEST(FallbackHooks, ToolsPreferringFunctionHooksUseATracepointHereForTheRightReason) {
    if (!function_hooks_refused_here())
        GTEST_SKIP() << "this kernel allows fentry or kprobes: the second kernel's case";
    const json features = features_json();
    const json& passed_over = features.at("passed_over");

    std::set<std::string> seen;
    for (const auto& [tool, events] : passed_over.items()) {
        for (const auto& [event, passed] : events.items()) {
            // At least one function hook of the event is passed over for the library's words
            // for "this kernel cannot" (EPERM for fentry, no kprobe PMU or kprobe_events). The
            // others may name functions of other kernels (renamed, inlined: ESRCH, ENOENT), but
            // if none were refused for the mechanism, the table would name no function of this
            // kernel at all: a wrong name.
            bool any_function_hook = false, refused_mechanism = false;
            std::string reasons;
            for (const auto& candidate : passed) {
                const std::string hook = candidate.at("hook");
                const std::string reason = candidate.at("reason");
                if (!function_hook(hook))
                    continue;
                any_function_hook = true;
                refused_mechanism |= reason.find("refuses") != std::string::npos ||
                                     reason.find("no kprobes") != std::string::npos;
                reasons += "\n  " + hook + ": " + reason;
            }
            if (!any_function_hook)
                continue;
            EXPECT_TRUE(refused_mechanism) << tool << " / " << event << reasons;
            seen.insert(tool);
            const json& chosen = features.at("tools").at(tool).at(event);
            ASSERT_TRUE(chosen.is_string()) << tool << " / " << event << " cannot run here";
            EXPECT_TRUE(tracepoint_hook(chosen.get<std::string>()))
                << tool << " / " << event << " uses " << chosen;
        }
    }
    EXPECT_EQ(seen, tools_preferring_function_hooks);
}

// End to end for one of them: -v names the function hook passed over and the tracepoint used,
// and the tool still reports what happened (a capability check the test makes).
TEST(FallbackHooks, CapableSaysWhyItFallsBackAndStillReports) {
    if (!function_hooks_refused_here())
        GTEST_SKIP() << "this kernel allows fentry or kprobes: the second kernel's case";
    if (getuid() != 0)
        GTEST_SKIP() << "needs root";
    Child child(
        [] {
            // sethostname(2) with the name it has: a CAP_SYS_ADMIN check, no change.
            char name[256] = {};
            ::gethostname(name, sizeof(name) - 1);
            ::_exit(::sethostname(name, std::char_traits<char>::length(name)) == 0 ? 0 : 1);
        },
        /*exit_after=*/true);
    ToolRun run = run_around({"capable", "--json", "-v", "-p", std::to_string(child.pid())}, [&] {
        child.go();
        ASSERT_EQ(child.reap(), 0);
    });
    EXPECT_NE(run.err.find("capability check: passed over fexit/cap_capable: this kernel refuses"),
              std::string::npos)
        << run.err;
    EXPECT_NE(run.err.find("capability check: using raw_tp/cap_capable"), std::string::npos)
        << run.err;
    const auto records = records_with(event_records(run), "name", std::string("CAP_SYS_ADMIN"));
    ASSERT_FALSE(records.empty()) << run.out;
    EXPECT_EQ(records.front()["pid"], child.pid());
    EXPECT_EQ(records.front()["verdict"], "allow");
}
