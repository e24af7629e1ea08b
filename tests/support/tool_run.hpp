// Test support: run `coretrace TOOL ...` as a user would around some work, and the checks every
// tool shares: an event tool's summary, bad input refused in one line, and nothing of the tool
// left in the kernel after it ends.
#pragma once

#include "bpf_objects.hpp"
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace coretrace::test {

// What a tool printed, and how it ended.
struct ToolRun {
    std::vector<nlohmann::json> lines; // the output's JSON Lines, when it ran with --json
    std::string out, err;
    int code = -1;
};

struct RunOptions {
    std::string disable{};               // the tool's CORETRACE_DISABLE (e.g. "raw_tp"), if any
    std::function<void()> before_exec{}; // runs in the tool's process before exec
    bool ends_itself = false;            // a duration or count ends it: no SIGINT
};

// Runs `coretrace ARGS...`, waits for its banner, runs `work`, then stops the tool with SIGINT
// (or waits for it to end by itself) and expects exit status 0.
ToolRun run_around(const std::vector<std::string>& args, const std::function<void()>& work,
                   const RunOptions& options = {});

// The end of run_around, for tests that run several tools at once: stops `tool` with SIGINT
// unless it `ends_itself`, and collects what it printed. `args` is its command line (with
// --json, its output is parsed).
ToolRun finish(Subprocess& tool, const std::vector<std::string>& args, bool ends_itself = false);

// Work for run_around: starts each child in turn and waits until it has done its work: exited
// with status 0 (a child made with exit_after) or blocked again (any other; not for a child
// that execs).
std::function<void()> let_run(std::vector<Child*> children);

// The same for one child, and the context switches it made meanwhile, into `switches`.
std::function<void()> let_run_counting(Child& child, long& switches);

// An event tool's records: its JSON lines without the summary, after checking the summary (the
// last line, nothing lost, counting exactly the records) and the "0 events lost" on stderr.
std::vector<nlohmann::json> event_records(const ToolRun& run);

// The records whose `field` equals `value`.
template <typename T>
std::vector<nlohmann::json> records_with(const std::vector<nlohmann::json>& records,
                                         const std::string& field, const T& value) {
    std::vector<nlohmann::json> found;
    for (const auto& record : records)
        if (record.contains(field) && record[field] == value)
            found.push_back(record);
    return found;
}

// What -v says of the hooks chosen. True when some event uses a function hook (fentry, fexit,
// kprobe): the kernel allows them, so the fallback a test expects here is not taken.
bool function_hook_chosen(const std::string& err);
// The lines -v writes for `event`: each of `passed` passed over with a reason, then `used`.
void expect_hook_choice(const std::string& err, const std::string& event,
                        const std::vector<std::string>& passed, const std::string& used);

// Bad input: `coretrace ARGS...` exits with `code` before tracing anything: nothing on stdout,
// and on stderr exactly one line, "ARGS[0]: ..." containing `text`. Returns that line.
std::string expect_refused(const std::vector<std::string>& args, int code,
                           const std::string& text = "");

// Runs `coretrace ARGS...` until it traces, checks it holds at least `min_programs` programs and
// links and a map, ends it with `signo` (0: it ends by itself) and checks that none of them
// remains. Returns what it held, for tests that know more.
BpfObjects expect_cleanup(const std::vector<std::string>& args, int signo,
                          std::size_t min_programs = 1);

// One way for a tool to end, for tests over several: the test's name, `coretrace ARGS...`, the
// signal that ends it (0: it ends by itself) and the least number of programs it attaches.
struct Ending {
    std::string name;
    std::vector<std::string> args;
    int signo = 0;
    std::size_t programs = 1;
};

} // namespace coretrace::test
