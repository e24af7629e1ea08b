// After a tool exits, by SIGINT, SIGTERM, SIGHUP, its own end, or an error, none of its programs,
// links or maps remain. The tool's objects are identified by the ids it held (from its fdinfo),
// never by assuming the machine has no other BPF programs.
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>

using namespace coretrace::test;

namespace {

class Cleanup : public testing::TestWithParam<Ending> {};

} // namespace

TEST_P(Cleanup, NothingOfTheToolRemains) {
    expect_cleanup(GetParam().args, GetParam().signo, GetParam().programs);
}

INSTANTIATE_TEST_SUITE_P(Tools, Cleanup,
                         testing::Values(Ending{"CpudistSigint", {"cpudist"}, SIGINT},
                                         Ending{"CpudistSigterm", {"cpudist", "-P"}, SIGTERM},
                                         Ending{"CpudistSighup", {"cpudist", "-O"}, SIGHUP},
                                         Ending{"CpudistCountReached", {"cpudist", "1", "1"}, 0},
                                         Ending{"HelloSigint", {"hello"}, SIGINT},
                                         Ending{"HelloSigterm", {"hello"}, SIGTERM},
                                         Ending{"HelloDurationReached", {"hello", "-d", "1"}, 0}),
                         [](const auto& info) { return info.param.name; });

TEST(CleanupOnError, FailedStartLeavesNoProgram) {
    auto before = programs_named({"cpudist_btf", "cpudist_raw"});
    auto result = run({coretrace_binary(), "cpudist", "-c", "/sys/fs/cgroup/cpu"});
    EXPECT_EQ(result.code, 1) << result.err;
    EXPECT_EQ(programs_named({"cpudist_btf", "cpudist_raw"}), before);
}
