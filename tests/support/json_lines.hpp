// Test support: parse a tool's JSON Lines output (every line must be one JSON object).
#pragma once

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace coretrace::test {

inline std::vector<nlohmann::json> json_lines(const std::string& text) {
    std::vector<nlohmann::json> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty())
            lines.push_back(nlohmann::json::parse(line)); // throws on anything but JSON
    return lines;
}

} // namespace coretrace::test
