// Tool registry and the command-line conventions every tool shares.
#include "coretrace/tool.hpp"

#include "coretrace/error.hpp"
#include "coretrace/log.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <vector>

namespace coretrace {
namespace {
std::vector<ToolInfo>& registry() {
    static std::vector<ToolInfo> tools;
    return tools;
}
} // namespace

ToolRegistrar::ToolRegistrar(ToolInfo info) {
    auto& tools = registry();
    auto at =
        std::lower_bound(tools.begin(), tools.end(), info,
                         [](const ToolInfo& a, const ToolInfo& b) { return a.name < b.name; });
    tools.insert(at, info);
}

std::span<const ToolInfo> tools() {
    return registry();
}

const ToolInfo* find_tool(std::string_view name) {
    for (const auto& tool : registry())
        if (tool.name == name)
            return &tool;
    return nullptr;
}

namespace {
template <typename T> CLI::Validator positive(const char* what) {
    return CLI::Validator(
        [what](std::string& text) -> std::string {
            T value{};
            // Capped so that every later time computation stays far from overflow.
            constexpr double most = 1e9;
            if (!CLI::detail::lexical_cast(text, value) || !(value > 0) || !(value <= most))
                return fmt::format("must be {} of at most {:.0f}, not '{}'", what, most, text);
            return {};
        },
        what);
}
} // namespace

const CLI::Validator positive_integer = positive<long long>("a positive integer");
const CLI::Validator positive_number = positive<double>("a positive number");

const CLI::Validator user_id(
    [](std::string& text) -> std::string {
        constexpr unsigned long long most = 4294967294ULL;
        bool digits =
            !text.empty() && text.size() <= 10 &&
            std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (!digits || std::stoull(text) > most)
            return fmt::format("must be a numeric user ID from 0 to {}, not '{}'", most, text);
        return {};
    },
    "a numeric UID");

CLI::Validator bounded_text(std::size_t most, std::string_view why) {
    return CLI::Validator(
        [most, why = std::string(why)](std::string& text) -> std::string {
            if (text.empty())
                return "must not be empty";
            if (text.size() > most)
                return fmt::format("must be 1 to {} bytes long ({}), not {} bytes", most, why,
                                   text.size());
            return {};
        },
        fmt::format("1 to {} bytes", most));
}

void add_common_options(CLI::App& app, CommonOptions& common, bool with_timestamp) {
    app.add_flag("-v,--verbose", common.verbose, "Verbose: hook choices and libbpf's log");
    app.add_flag("--json", common.json, "JSON Lines on stdout (the banner goes to stderr)");
    if (with_timestamp)
        app.add_flag("-T,--timestamp", common.timestamp, "Include a timestamp on output");
}

int run_tool(CLI::App& app, int argc, char** argv, const CommonOptions& common,
             const std::function<int()>& body) {
    const std::string name = app.get_name();
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "%s: %s (see %s --help)\n", name.c_str(), e.what(), name.c_str());
        return 2;
    }
    log::set_verbose(common.verbose);
    try {
        return body();
    } catch (const Error& e) {
        std::fprintf(stderr, "%s: %s\n", name.c_str(), e.what());
        if (common.verbose && !e.verifier_log().empty())
            std::fprintf(stderr, "verifier log:\n%s\n", e.verifier_log().c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: unexpected failure: %s\n", name.c_str(), e.what());
        return 1;
    }
}

void announce(const CommonOptions& common, std::string_view line) {
    FILE* out = common.json ? stderr : stdout;
    std::fprintf(out, "%.*s\n", static_cast<int>(line.size()), line.data());
    std::fflush(out);
}

void emit_json_line(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

} // namespace coretrace
