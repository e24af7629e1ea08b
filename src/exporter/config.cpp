#include "config.hpp"

#include "collector.hpp"

#include "coretrace/error.hpp"

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <yaml-cpp/yaml.h>

namespace coretrace::exporter {

namespace {

[[noreturn]] void fail(const std::string& source, const YAML::Node& node, const std::string& what) {
    const auto mark = node.Mark();
    if (mark.is_null())
        throw Error(fmt::format("{}: {}", source, what));
    throw Error(fmt::format("{}:{}: {}", source, mark.line + 1, what));
}

std::string scalar(const std::string& source, const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar())
        fail(source, node, fmt::format("'{}' must be a single value", key));
    return node.as<std::string>();
}

void only_keys(const std::string& source, const YAML::Node& map,
               std::initializer_list<std::string_view> keys, const std::string& where) {
    if (!map.IsMap())
        fail(source, map, fmt::format("{} must be a mapping", where));
    for (const auto& entry : map) {
        const auto key = entry.first.as<std::string>();
        if (std::find(keys.begin(), keys.end(), key) == keys.end())
            fail(source, entry.first, fmt::format("unknown key '{}' in {}", key, where));
    }
}

// One option of a tool's mapping: a scalar, or a sequence of ports joined as "80,443".
void set_yaml_option(const std::string& source, ToolConfig& tool, const YAML::Node& key_node,
                     const YAML::Node& value_node) {
    const auto key = key_node.as<std::string>();
    std::string value;
    if (value_node.IsSequence()) {
        for (const auto& item : value_node) {
            if (!item.IsScalar())
                fail(source, item, fmt::format("'{}' must be a list of single values", key));
            value += (value.empty() ? "" : ",") + item.as<std::string>();
        }
    } else {
        value = scalar(source, value_node, key);
    }
    try {
        set_option(tool.name, key, value, tool.options);
    } catch (const Error& e) {
        fail(source, key_node, e.what());
    }
}

} // namespace

ToolConfig parse_tool_spec(const std::string& spec) {
    ToolConfig tool;
    const auto colon = spec.find(':');
    tool.name = spec.substr(0, colon);
    const auto known = collector_names();
    if (std::find(known.begin(), known.end(), tool.name) == known.end())
        throw Error(
            fmt::format("no tool '{}' (the exporter runs: {})", tool.name, fmt::join(known, ", ")));
    if (colon == std::string::npos)
        return tool;
    // KEY or KEY=VALUE, separated by ':' (a value may hold commas: ports=80,443).
    std::size_t start = colon + 1;
    while (true) {
        const auto end = spec.find(':', start);
        const std::string option =
            spec.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (option.empty())
            throw Error(
                fmt::format("{}: an empty option in '{}' (TOOL:KEY[=VALUE]:...)", tool.name, spec));
        const auto equals = option.find('=');
        set_option(tool.name, option.substr(0, equals),
                   equals == std::string::npos ? "" : option.substr(equals + 1), tool.options);
        if (end == std::string::npos)
            break;
        start = end + 1;
    }
    return tool;
}

Config parse_config(const std::string& text, const std::string& source) {
    Config config;
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw Error(fmt::format("{}:{}: {}", source, e.mark.line + 1, e.msg));
    }
    if (root.IsNull())
        return config; // an empty file: the defaults
    only_keys(source, root, {"listen", "max_series", "pin", "tools"}, "the configuration");
    if (auto node = root["listen"])
        config.listen = scalar(source, node, "listen");
    if (auto node = root["pin"])
        config.pin = scalar(source, node, "pin");
    if (auto node = root["max_series"]) {
        const std::string text_value = scalar(source, node, "max_series");
        std::size_t value = 0;
        try {
            value = node.as<std::size_t>();
        } catch (const YAML::Exception&) {
        }
        if (value < 1 || value > 1000000)
            fail(source, node,
                 fmt::format("max_series must be from 1 to 1000000, not '{}'", text_value));
        config.max_series = value;
    }
    if (auto tools = root["tools"]) {
        if (!tools.IsMap())
            fail(source, tools, "tools must be a mapping of tool names to their settings");
        const auto known = collector_names();
        for (const auto& entry : tools) {
            ToolConfig tool;
            tool.name = entry.first.as<std::string>();
            if (std::find(known.begin(), known.end(), tool.name) == known.end())
                fail(source, entry.first,
                     fmt::format("unknown tool '{}' (the exporter runs: {})", tool.name,
                                 fmt::join(known, ", ")));
            const YAML::Node& settings = entry.second;
            if (!settings.IsNull()) {
                if (!settings.IsMap())
                    fail(source, settings,
                         fmt::format("tool '{}' must be a mapping of its options", tool.name));
                for (const auto& option : settings)
                    set_yaml_option(source, tool, option.first, option.second);
            }
            config.tools.push_back(std::move(tool));
        }
    }
    return config;
}

Config load_config(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        throw_system_error(fmt::format("--config: cannot read {}", path), errno);
    std::stringstream text;
    text << in.rdbuf();
    return parse_config(text.str(), path);
}

} // namespace coretrace::exporter
