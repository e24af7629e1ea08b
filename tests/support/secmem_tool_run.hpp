// Test support for capable, oomkill, slabratetop, klockstat and numamove: run a tool with --json
// around a workload, check bad input, and check that nothing of the tool remains after it ends.
#pragma once

#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace coretrace::test::secmem {

struct JsonRun {
    std::vector<nlohmann::json> lines; // every JSON line, the summary (if any) included
    std::string out, err;
    int code = -1;
};

// Runs `coretrace TOOL --json ARGS...`, waits for its banner, runs `workload`, then stops it
// with SIGINT (unless it ends by itself) and parses its output. `disable` is put in the tool's
// CORETRACE_DISABLE (e.g. "raw_tp", to test a fallback hook).
inline JsonRun run_json(const std::string& tool, const std::vector<std::string>& args,
                        const std::function<void()>& workload, const std::string& disable = "") {
    std::vector<std::string> argv = {coretrace_binary(), tool, "--json"};
    if (!disable.empty())
        argv.push_back("-v"); // says which hook was used
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess process(argv, [disable] {
        if (!disable.empty())
            ::setenv("CORETRACE_DISABLE", disable.c_str(), 1);
    });
    JsonRun run;
    EXPECT_TRUE(process.wait_for("Hit Ctrl-C")) << process.err();
    workload();
    if (process.running())
        process.signal(SIGINT);
    run.code = process.wait(20s);
    run.out = process.out();
    run.err = process.err();
    EXPECT_EQ(run.code, 0) << run.err;
    run.lines = json_lines(run.out);
    return run;
}

// Bad input: exit status `code`, exactly one line on stderr naming the tool, nothing on stdout.
inline void expect_refused(const std::vector<std::string>& args, int code,
                           const std::string& text) {
    std::vector<std::string> argv = {coretrace_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    Completed result = run(argv);
    EXPECT_EQ(result.code, code) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_TRUE(result.err.starts_with(args[0] + ": ")) << result.err;
    EXPECT_NE(result.err.find(text), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "") << result.out;
}

// Runs the tool, takes the BPF objects it holds once it is tracing, ends it with `signo` (0: it
// ends by itself) and checks that none of them remain.
inline void expect_cleanup(const std::vector<std::string>& args, int signo) {
    std::vector<std::string> argv = {coretrace_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess tool(argv);
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), 1u);
    EXPECT_GE(held.maps.size(), 1u);
    EXPECT_GE(held.links.size(), 1u);
    if (signo)
        tool.signal(signo);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    BpfObjects left = still_loaded(held, std::chrono::seconds(3));
    EXPECT_TRUE(left.empty()) << "progs " << left.progs.size() << ", maps " << left.maps.size()
                              << ", links " << left.links.size();
}

} // namespace coretrace::test::secmem
