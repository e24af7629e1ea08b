// coretrace-exporter (run as `coretrace exporter`): serves the in-kernel aggregation of the chosen
// tools as Prometheus metrics on /metrics until SIGINT or SIGTERM; then unloads everything.
#include "config.hpp"
#include "exporter.hpp"
#include "http_server.hpp"

#include "coretrace/error.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <optional>

namespace {

using namespace coretrace;

struct Options {
    CommonOptions common;
    std::optional<std::string> listen;
    std::optional<std::size_t> max_series;
    std::optional<std::string> pin_dir;
    std::string config_path;
    std::vector<std::string> tools;
};

// The command line over the configuration file over the defaults.
void merge(Options& options, const exporter::Config& config,
           std::vector<exporter::ToolConfig>& tools) {
    if (!options.listen)
        options.listen = config.listen.value_or("127.0.0.1:9435");
    if (!options.max_series)
        options.max_series = config.max_series.value_or(1000);
    if (!options.pin_dir)
        options.pin_dir = config.pin.value_or("");
    if (!options.tools.empty())
        for (const auto& spec : options.tools)
            tools.push_back(exporter::parse_tool_spec(spec));
    else if (!config.tools.empty())
        tools = config.tools;
    else
        for (auto name : exporter::default_collector_names())
            tools.push_back({std::string(name), {}});
    for (auto it = tools.begin(); it != tools.end(); ++it)
        if (std::find_if(tools.begin(), it, [&](const auto& t) { return t.name == it->name; }) !=
            it)
            throw Error(fmt::format("'{}' is named twice", it->name));
}

int run(Options& options) {
    exporter::Config config;
    if (!options.config_path.empty())
        config = exporter::load_config(options.config_path);
    std::vector<exporter::ToolConfig> tools;
    merge(options, config, tools);
    sys::require_bpf_privileges();

    if (!options.pin_dir->empty())
        exporter::check_pin_dir(*options.pin_dir);

    StopSignals stop; // first: civetweb's threads inherit the blocked signals
    exporter::Exporter metrics(tools, {*options.max_series, *options.pin_dir, {}});
    exporter::HttpServer server(*options.listen, [&metrics] { return metrics.scrape(); });
    std::vector<std::string> names;
    for (const auto& tool : tools)
        names.push_back(tool.name);
    std::fprintf(stderr, "Serving http://%s/metrics for %s... Hit Ctrl-C to end.\n",
                 server.address().c_str(), fmt::format("{}", fmt::join(names, ", ")).c_str());
    std::fflush(stderr);
    while (!stop.wait_for(std::chrono::hours(24))) {
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Serve the in-kernel aggregation of coretrace tools as Prometheus metrics.\n"
        "Each TOOL runs system-wide; its maps are read at each scrape of /metrics.\n\n"
        "USAGE: coretrace exporter [--listen ADDRESS:PORT] [--config FILE] [--max-series N]\n"
        "                          [--pin DIR] [-v] [TOOL[:OPTION]...]\n\n"
        "TOOLS: cpudist, runqlat, biolatency (per disk), syscount (per system call),\n"
        "       execsnoop (execs per command name), tcpconnect (connects per family),\n"
        "       tcplife (sessions, bytes, lifespan per family), hardirqs (time per handler),\n"
        "       softirqs (time per vector), oomkill (kills); all of them by default.\n"
        "OPTIONS of a TOOL, after it, each after a ':' (KEY alone sets a flag):\n"
        "       cgroup=PATH     all but tcplife, softirqs, oomkill: tasks of a cgroup v2 only\n"
        "       cpudist:offcpu  biolatency:queued  syscount:failures  hardirqs:dist\n"
        "       softirqs:dist  softirqs:cpu=N  tcpconnect:dport  tcpconnect:ports=80,443\n"
        "       tcplife:lports=80,443  tcplife:rports=5432\n"
        "       synthetic:series=N (N counter series without BPF, for benchmarks only)\n\n"
        "EXAMPLES:\n"
        "    coretrace exporter                        # every tool on 127.0.0.1:9435\n"
        "    coretrace exporter runqlat biolatency     # these two only\n"
        "    coretrace exporter biolatency:queued tcpconnect:dport:ports=80,443\n"
        "    coretrace exporter --listen 0.0.0.0:9435  # every interface (see docs/exporter.md)",
        "exporter"};
    app.add_option("--listen", options.listen,
                   "Address and port to serve /metrics on (default 127.0.0.1:9435; port 0: any)");
    app.add_option("--max-series", options.max_series,
                   "Series kept per metric family; the rest are dropped and counted (default "
                   "1000)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
    app.add_option("--config", options.config_path,
                   "YAML configuration: listen, max_series, pin, tools and their options "
                   "(docs/exporter.md); the command line overrides it");
    app.add_option("--pin", options.pin_dir,
                   "Pin the counting maps in this bpffs directory (0600), and reuse them there: a "
                   "restarted exporter continues its counts (those of execsnoop, tcpconnect, "
                   "tcplife, oomkill and softirqs restart)");
    app.add_flag("-v,--verbose", options.common.verbose, "Say which hook each event uses");
    app.add_option("TOOL", options.tools, "Tools to run, each with its options (default: all)")
        ->check(CLI::Validator(
            [](const std::string& spec) -> std::string {
                try {
                    exporter::parse_tool_spec(spec);
                    return "";
                } catch (const Error& e) {
                    return e.what();
                }
            },
            "TOOL[:OPTION]..."));
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}
