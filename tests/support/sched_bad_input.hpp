// Test support for the scheduler tools' tests: bad command lines must fail with one line on
// stderr, the right exit status and no banner, before anything is loaded.
#pragma once

#include "subprocess.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace coretrace::test {

struct BadInput {
    std::vector<std::string> args;
    int code;            // expected exit status
    std::string message; // what stderr must start with
};

inline void expect_bad_input(const std::string& tool, const std::vector<BadInput>& cases) {
    for (const auto& c : cases) {
        std::vector<std::string> argv = {coretrace_binary(), tool};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        auto done = run(argv, std::chrono::seconds(10));
        EXPECT_EQ(done.code, c.code) << c.args[0] << ": " << done.err;
        EXPECT_TRUE(done.err.starts_with(c.message)) << done.err;
        EXPECT_EQ(std::count(done.err.begin(), done.err.end(), '\n'), 1) << done.err;
        EXPECT_EQ(done.out.find("Hit Ctrl-C"), std::string::npos) << done.out;
        EXPECT_EQ(done.err.find("Hit Ctrl-C"), std::string::npos) << done.err;
    }
}

} // namespace coretrace::test
