// After a tool exits, by SIGINT, SIGTERM, SIGHUP, its own end, or an error, none of its programs,
// links or maps remain. The tool's objects are identified by the ids it held (from its fdinfo),
// never by assuming the machine has no other BPF programs.
#include "bpf_objects.hpp"
#include "subprocess.hpp"

#include <csignal>
#include <gtest/gtest.h>

using namespace coretrace::test;

namespace {

struct Case {
    std::string name;
    std::vector<std::string> args;
    int signo; // 0: the tool ends by itself
};

std::string describe(const BpfObjects& objects) {
    std::string text;
    for (auto id : objects.progs)
        text += " prog " + std::to_string(id);
    for (auto id : objects.maps)
        text += " map " + std::to_string(id);
    for (auto id : objects.links)
        text += " link " + std::to_string(id);
    return text;
}

class Cleanup : public testing::TestWithParam<Case> {};

} // namespace

TEST_P(Cleanup, NothingOfTheToolRemains) {
    const Case& c = GetParam();
    std::vector<std::string> argv = {coretrace_binary()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    Subprocess tool(argv);
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 1u);
    EXPECT_GE(held.maps.size(), 1u);
    EXPECT_GE(held.links.size(), 1u);
    if (c.signo)
        tool.signal(c.signo);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    BpfObjects left = still_loaded(held, std::chrono::seconds(3));
    EXPECT_TRUE(left.empty()) << "still loaded:" << describe(left);
}

INSTANTIATE_TEST_SUITE_P(Tools, Cleanup,
                         testing::Values(Case{"CpudistSigint", {"cpudist"}, SIGINT},
                                         Case{"CpudistSigterm", {"cpudist", "-P"}, SIGTERM},
                                         Case{"CpudistSighup", {"cpudist", "-O"}, SIGHUP},
                                         Case{"CpudistCountReached", {"cpudist", "1", "1"}, 0},
                                         Case{"HelloSigint", {"hello"}, SIGINT},
                                         Case{"HelloSigterm", {"hello"}, SIGTERM},
                                         Case{"HelloDurationReached", {"hello", "-d", "1"}, 0}),
                         [](const auto& info) { return info.param.name; });

TEST(CleanupOnError, FailedStartLeavesNoProgram) {
    auto before = programs_named({"cpudist_btf", "cpudist_raw"});
    auto result = run({coretrace_binary(), "cpudist", "-c", "/sys/fs/cgroup/cpu"});
    EXPECT_EQ(result.code, 1) << result.err;
    EXPECT_EQ(programs_named({"cpudist_btf", "cpudist_raw"}), before);
}
