// Running a tool around some work, and the checks every tool shares.
#include "tool_run.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <gtest/gtest.h>

namespace coretrace::test {
namespace {

std::vector<std::string> command(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {coretrace_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

} // namespace

ToolRun run_around(const std::vector<std::string>& args, const std::function<void()>& work,
                   const RunOptions& options) {
    Subprocess tool(command(args), [&options] {
        if (!options.disable.empty())
            ::setenv("CORETRACE_DISABLE", options.disable.c_str(), 1);
        if (options.before_exec)
            options.before_exec();
    });
    EXPECT_TRUE(tool.wait_for("Hit Ctrl-C")) << tool.err();
    work();
    return finish(tool, args, options.ends_itself);
}

ToolRun finish(Subprocess& tool, const std::vector<std::string>& args, bool ends_itself) {
    if (!ends_itself)
        tool.signal(SIGINT);
    ToolRun run;
    run.code = tool.wait(20s);
    run.out = tool.out();
    run.err = tool.err();
    EXPECT_EQ(run.code, 0) << run.err;
    if (std::find(args.begin(), args.end(), "--json") != args.end())
        run.lines = json_lines(run.out);
    return run;
}

std::function<void()> let_run(std::vector<Child*> children) {
    return [children] {
        for (Child* child : children) {
            child->go();
            if (child->exits_after())
                EXPECT_EQ(child->reap(), 0) << "child " << child->pid();
            else
                EXPECT_TRUE(child->wait_done()) << "child " << child->pid();
        }
    };
}

std::function<void()> let_run_counting(Child& child, long& switches) {
    return [&child, &switches] {
        const long before = context_switches(child.pid());
        let_run({&child})();
        switches = context_switches(child.pid()) - before;
    };
}

std::vector<nlohmann::json> event_records(const ToolRun& run) {
    std::vector<nlohmann::json> records = run.lines;
    EXPECT_FALSE(records.empty()) << run.err;
    if (records.empty())
        return records;
    const nlohmann::json summary = records.back();
    records.pop_back();
    EXPECT_EQ(summary["type"], "summary") << summary;
    EXPECT_EQ(summary["lost"], 0) << summary;
    EXPECT_EQ(summary["events"], records.size()) << summary;
    // Runs of the tool's programs the kernel skipped are reported, never silent.
    EXPECT_TRUE(summary["unseen"].is_number_unsigned()) << summary;
    if (summary["unseen"].is_number_unsigned() && summary["unseen"].get<std::uint64_t>() > 0) {
        EXPECT_NE(run.err.find(" events unseen: "), std::string::npos) << run.err;
    }
    EXPECT_NE(run.err.find("\n0 events lost\n"), std::string::npos) << run.err;
    return records;
}

std::string expect_refused(const std::vector<std::string>& args, int code,
                           const std::string& text) {
    Completed result = run(command(args), 20s);
    EXPECT_EQ(result.code, code) << result.err;
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_TRUE(result.err.starts_with(args.at(0) + ": ")) << result.err;
    EXPECT_NE(result.err.find(text), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("Hit Ctrl-C"), std::string::npos) << result.err;
    return result.err;
}

BpfObjects expect_cleanup(const std::vector<std::string>& args, int signo,
                          std::size_t min_programs) {
    Subprocess tool(command(args));
    if (!tool.wait_for("Hit Ctrl-C")) {
        ADD_FAILURE() << "no banner: " << tool.err();
        return {};
    }
    BpfObjects held = held_by(tool.pid());
    EXPECT_GE(held.progs.size(), min_programs);
    EXPECT_GE(held.maps.size(), 1u);
    EXPECT_GE(held.links.size(), min_programs);
    if (signo)
        tool.signal(signo);
    EXPECT_EQ(tool.wait(20s), 0) << tool.err();
    BpfObjects left = still_loaded(held, std::chrono::seconds(3));
    EXPECT_TRUE(left.empty()) << "still loaded:" << describe(left);
    return held;
}

bool function_hook_chosen(const std::string& err) {
    for (const char* kind :
         {": using fentry/", ": using fexit/", ": using kprobe/", ": using kretprobe/"})
        if (err.find(kind) != std::string::npos)
            return true;
    return false;
}

void expect_hook_choice(const std::string& err, const std::string& event,
                        const std::vector<std::string>& passed, const std::string& used) {
    for (const auto& hook : passed) {
        const std::string line = "coretrace: " + event + ": passed over " + hook + ": ";
        const auto at = err.find(line);
        ASSERT_NE(at, std::string::npos) << line << "\n" << err;
        const auto end = err.find('\n', at);
        EXPECT_GT(end, at + line.size()) << "no reason given: " << err.substr(at, end - at);
    }
    EXPECT_NE(err.find("coretrace: " + event + ": using " + used + ": "), std::string::npos)
        << used << "\n"
        << err;
}

} // namespace coretrace::test
