// The command-line conventions every tool shares: one error line, exit 2 for bad usage, exit 1
// for a failure, the banner on stderr under --json.
#include "coretrace/error.hpp"
#include "coretrace/tool.hpp"

#include <gtest/gtest.h>

using namespace coretrace;

namespace {
struct Parsed {
    int code;
    std::string err;
    bool ran;
};

Parsed parse(
    std::vector<std::string> args, std::function<int()> body = [] { return 0; }) {
    CLI::App app{"test tool", "demo"};
    CommonOptions common;
    long interval = 0;
    int pid = 0;
    app.add_option("-p,--pid", pid)->check(positive_integer);
    add_common_options(app, common, true);
    app.add_option("interval", interval)->check(positive_integer);
    std::vector<char*> argv;
    args.insert(args.begin(), "demo");
    for (auto& a : args)
        argv.push_back(a.data());
    bool ran = false;
    testing::internal::CaptureStderr();
    int code = run_tool(app, static_cast<int>(argv.size()), argv.data(), common, [&] {
        ran = true;
        return body();
    });
    return {code, testing::internal::GetCapturedStderr(), ran};
}

int lines(const std::string& text) {
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}
} // namespace

TEST(ToolCli, ValidArgumentsRunTheBody) {
    auto r = parse({"-p", "12", "-T", "--json", "5"});
    EXPECT_EQ(r.code, 0);
    EXPECT_TRUE(r.ran);
}

TEST(ToolCli, BadInputIsOneLineAndExit2) {
    for (auto args : std::vector<std::vector<std::string>>{
             {"--bogus"}, {"0"}, {"abc"}, {"-p", "-5"}, {"-p", "x"}, {"1", "2"}}) {
        auto r = parse(args);
        EXPECT_EQ(r.code, 2) << args[0];
        EXPECT_FALSE(r.ran);
        EXPECT_EQ(lines(r.err), 1) << r.err;
        EXPECT_EQ(r.err.rfind("demo: ", 0), 0u) << r.err;
        EXPECT_LT(r.err.size(), 120u) << r.err;
    }
}

TEST(ToolCli, PositiveIntegerMessageNamesTheValue) {
    auto r = parse({"0"});
    EXPECT_NE(r.err.find("must be a positive integer of at most 1000000000, not '0'"),
              std::string::npos)
        << r.err;
    r = parse({"abc"});
    EXPECT_NE(r.err.find("must be a positive integer of at most 1000000000, not 'abc'"),
              std::string::npos)
        << r.err;
    r = parse({"10000000000"});
    EXPECT_EQ(r.code, 2) << r.err;
}

TEST(ToolCli, ErrorsBecomeOneLineAndExit1) {
    auto r = parse({}, []() -> int { throw Error("no process with PID 4242"); });
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.err, "demo: no process with PID 4242\n");
}

TEST(ToolCli, VerifierLogOnlyWithVerbose) {
    auto thrower = []() -> int {
        throw Error("loading program x failed", EACCES, "0: R1 invalid mem access\n");
    };
    EXPECT_EQ(parse({}, thrower).err.find("R1 invalid"), std::string::npos);
    EXPECT_NE(parse({"-v"}, thrower).err.find("R1 invalid"), std::string::npos);
}
