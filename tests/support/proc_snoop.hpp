// Test support for the process tools (execsnoop, exitsnoop, killsnoop, sigsnoop): run a tool
// with --json around some work, collect its records and summary, and check the shared end of
// every run (nothing lost, the summary counts the records); check bad input and cleanup.
#pragma once

#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <algorithm>
#include <cstdlib>
#include <csignal>
#include <functional>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace coretrace::test {

struct Traced {
    std::vector<nlohmann::json> records; // the per-event objects, in order
    nlohmann::json summary;
    std::string err;
};

// Runs `coretrace TOOL --json ARGS...`, waits until it traces, runs `work`, stops it with
// SIGINT and returns what it printed, after checking the summary. `disable`, when not empty, is
// the tool's CORETRACE_DISABLE (to run a fallback hook).
inline Traced trace_json(const std::string& tool_name, const std::vector<std::string>& args,
                         const std::function<void()>& work, const std::string& disable = "") {
    std::vector<std::string> argv = {coretrace_binary(), tool_name, "--json", "-v"};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess tool(argv, [disable] {
        if (!disable.empty())
            ::setenv("CORETRACE_DISABLE", disable.c_str(), 1);
    });
    Traced traced;
    EXPECT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    work();
    tool.signal(SIGINT);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    traced.err = tool.err();
    auto lines = json_lines(tool.out());
    EXPECT_FALSE(lines.empty()) << tool.err();
    if (lines.empty())
        return traced;
    traced.summary = lines.back();
    lines.pop_back();
    traced.records = std::move(lines);
    EXPECT_EQ(traced.summary["type"], "summary");
    EXPECT_EQ(traced.summary["lost"], 0);
    EXPECT_EQ(traced.summary["events"], traced.records.size());
    EXPECT_NE(traced.err.find("\n0 events lost\n"), std::string::npos) << traced.err;
    return traced;
}

// The records whose `field` equals `value`.
template <typename T>
std::vector<nlohmann::json> records_with(const Traced& traced, const std::string& field,
                                         const T& value) {
    std::vector<nlohmann::json> found;
    std::copy_if(traced.records.begin(), traced.records.end(), std::back_inserter(found),
                 [&](const nlohmann::json& r) { return r.contains(field) && r[field] == value; });
    return found;
}

// Bad input: exit status `code`, nothing on stdout, one line on stderr that contains `text`.
inline void expect_refused(const std::vector<std::string>& args, int code,
                           const std::string& text) {
    std::vector<std::string> argv = {coretrace_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    Completed result = run(argv, 20s);
    EXPECT_EQ(result.code, code) << result.err;
    EXPECT_TRUE(result.out.empty()) << result.out;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_NE(result.err.find(text), std::string::npos) << result.err;
}

// Runs `coretrace ARGS...` until it traces, checks it holds programs, maps and links, ends it
// with `signo` (0: it ends by itself) and checks that none of them remain.
inline void expect_cleanup(const std::vector<std::string>& args, int signo,
                           std::size_t min_programs) {
    std::vector<std::string> argv = {coretrace_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess tool(argv);
    ASSERT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), min_programs);
    EXPECT_GE(held.maps.size(), 1u);
    EXPECT_GE(held.links.size(), min_programs);
    if (signo)
        tool.signal(signo);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    BpfObjects left = still_loaded(held, std::chrono::seconds(3));
    EXPECT_TRUE(left.empty());
}

} // namespace coretrace::test
