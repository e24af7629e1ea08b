// The exporter's YAML configuration (--config FILE, read with Debian's yaml-cpp). Every key is
// optional; the command line overrides it. Unknown keys are errors, so a typo is not silently
// a default.
//
//   listen: 127.0.0.1:9435
//   max_series: 1000
//   pin: /sys/fs/bpf/coretrace
//   tools:                       # the tools to run and, for each, its options (default: all)
//     cpudist: {}
//     syscount:
//       cgroup: /sys/fs/cgroup/system.slice   # count tasks of this cgroup v2 only
//     tcpconnect:
//       dport: true                           # label the counts with the destination port
//       ports: [80, 443]                      # or "80,443"
//
// A tool's options are those of TOOL:KEY[=VALUE]... on the command line (parse_tool_spec), with
// the same keys and checks (collector.hpp: set_option).
#pragma once

#include "collector.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace coretrace::exporter {

struct ToolConfig {
    std::string name;
    ToolOptions options;
};

struct Config {
    std::optional<std::string> listen;
    std::optional<std::size_t> max_series;
    std::optional<std::string> pin;
    std::vector<ToolConfig> tools; // empty: not given
};

// Parses `text` (`source` names it in errors); throws a one-line Error.
Config parse_config(const std::string& text, const std::string& source);
Config load_config(const std::string& path);

// A tool named on the command line: TOOL[:KEY[=VALUE]]... (`biolatency:queued`,
// `tcpconnect:dport:ports=80,443`, `cpudist:cgroup=/sys/fs/cgroup/x`); throws a one-line Error.
ToolConfig parse_tool_spec(const std::string& spec);

} // namespace coretrace::exporter
