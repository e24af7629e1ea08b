#include "exporter.hpp"

#include <chrono>

namespace coretrace::exporter {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

} // namespace

Exporter::Exporter(const std::vector<ToolConfig>& tools, const CollectorSettings& settings)
    : settings_(settings) {
    for (const auto& tool : tools) {
        CollectorSettings own = settings;
        own.options = tool.options;
        collectors_.push_back(make_collector(tool.name, own));
    }
}

std::string Exporter::scrape() {
    std::lock_guard lock(mutex_);
    const auto started = Clock::now();
    scrapes_++;
    prom::Exposition out(settings_.max_series);
    std::vector<double> durations;
    for (const auto& collector : collectors_) {
        const auto collector_started = Clock::now();
        collector->collect(out);
        durations.push_back(seconds_since(collector_started));
    }

    out.family("coretrace_exporter_program_attached", prom::MetricType::gauge,
               "1 for each BPF program a tool's collector attached, with the hook it chose.");
    for (const auto& collector : collectors_)
        for (const auto& program : collector->programs())
            out.sample({{"tool", std::string(collector->tool())},
                        {"program", program.program},
                        {"hook", program.hook}},
                       1);
    out.family("coretrace_exporter_events_lost_total", prom::MetricType::counter,
               "Events a tool saw but could not count: records the ring buffer had no room "
               "for, requests or calls a full map could not track.");
    for (const auto& collector : collectors_)
        out.sample({{"tool", std::string(collector->tool())}},
                   static_cast<double>(collector->lost()));
    out.family("coretrace_exporter_map_entries", prom::MetricType::gauge,
               "Entries in each BPF map of each tool now (hash maps: counted at this scrape; "
               "arrays: all of them).");
    for (const auto& collector : collectors_)
        for (const auto& map : collector->maps())
            out.sample({{"tool", std::string(collector->tool())}, {"map", map.name}},
                       static_cast<double>(map_entries(map)));
    out.family("coretrace_exporter_map_max_entries", prom::MetricType::gauge,
               "The size each BPF map of each tool was created with (max_entries): a hash map "
               "that reaches it counts what it cannot hold as lost.");
    for (const auto& collector : collectors_)
        for (const auto& map : collector->maps())
            out.sample({{"tool", std::string(collector->tool())}, {"map", map.name}},
                       static_cast<double>(map.max_entries));
    out.family("coretrace_exporter_collector_duration_seconds", prom::MetricType::gauge,
               "Time this scrape spent reading each tool's maps.");
    for (std::size_t i = 0; i < collectors_.size(); i++)
        out.sample({{"tool", std::string(collectors_[i]->tool())}}, durations[i]);
    out.family("coretrace_exporter_scrapes_total", prom::MetricType::counter,
               "Scrapes of /metrics served, this one included.");
    out.sample({}, static_cast<double>(scrapes_));
    out.family("coretrace_exporter_max_series", prom::MetricType::gauge,
               "The cap on series per metric family (--max-series).");
    out.sample({}, static_cast<double>(settings_.max_series));
    // Copied: writing the family below may not add to the map being read.
    const auto dropped = out.dropped();
    out.family("coretrace_exporter_series_dropped", prom::MetricType::gauge,
               "Series left out of this scrape by the cap, per metric family that hit it.");
    for (const auto& [metric, count] : dropped)
        out.sample({{"metric", metric}}, static_cast<double>(count));
    out.family("coretrace_exporter_scrape_duration_seconds", prom::MetricType::gauge,
               "Time this scrape took to render, up to this line.");
    out.sample({}, seconds_since(started));
    return out.text();
}

} // namespace coretrace::exporter
