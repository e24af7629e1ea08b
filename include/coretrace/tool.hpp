// The tool registry and what every tool's command line shares: the -v/--json/-T options, one
// error line and a non-zero exit for bad input or a failure, and the Ctrl-C banner.
#pragma once

#include "coretrace/hooks.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace coretrace {

struct ToolInfo {
    std::string_view name;
    std::string_view summary;
    int (*main)(int argc, char** argv);
    // The events the tool observes and their candidate hooks (for `coretrace features`).
    std::span<const hooks::EventHooks> hooks = {};
};

// Static registration in the tool's .cpp: CORETRACE_TOOL(cpudist, "...", cpudist_main, hooks),
// the hook table being optional.
struct ToolRegistrar {
    explicit ToolRegistrar(ToolInfo info);
};
// clang-format off
#define CORETRACE_TOOL(name, summary, main_fn, ...) \
    static const ::coretrace::ToolRegistrar coretrace_tool_registrar_##name{ \
        ::coretrace::ToolInfo{#name, summary, main_fn __VA_OPT__(,) __VA_ARGS__}}
// clang-format on

std::span<const ToolInfo> tools(); // sorted by name
const ToolInfo* find_tool(std::string_view name);

struct CommonOptions {
    bool verbose = false;
    bool json = false;
    bool timestamp = false;
};
// Validators whose messages read well ("interval: must be a positive integer, not '0'").
extern const CLI::Validator positive_integer;
extern const CLI::Validator positive_number;
// A numeric user ID from 0 to 4294967294 ((uid_t)-1 is no user).
extern const CLI::Validator user_id;
// A non-empty string of at most `most` bytes (what the BPF side can hold); `why` explains it.
CLI::Validator bounded_text(std::size_t most, std::string_view why);

// Adds -v/--verbose and --json (and -T when `with_timestamp`).
void add_common_options(CLI::App& app, CommonOptions& common, bool with_timestamp);

// Parses argv with `app`, then runs `body`. Parse errors, Errors and exceptions become one line
// "<tool>: <message>" on stderr and exit code 2 (usage) or 1 (failure); with -v a verifier log
// follows. Returns the process exit code.
int run_tool(CLI::App& app, int argc, char** argv, const CommonOptions& common,
             const std::function<int()>& body);

// The "Tracing ... Hit Ctrl-C to end." line, flushed at once; to stderr with --json so that
// stdout stays pure JSON Lines.
void announce(const CommonOptions& common, std::string_view line);
// One JSON Lines record to stdout, flushed.
void emit_json_line(const std::string& line);

} // namespace coretrace
