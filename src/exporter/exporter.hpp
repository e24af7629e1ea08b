// The exporter: the chosen tools' collectors and one scrape's text, the collectors' metrics then
// the exporter's own (programs attached and the hook each chose, events lost, series dropped by
// the cap, how long the scrape took). Scrapes are serialized: collectors read their maps one
// scrape at a time.
#pragma once

#include "collector.hpp"
#include "config.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace coretrace::exporter {

class Exporter {
  public:
    // Loads and attaches each of `tools`, with `settings` and the tool's own filter (an Error
    // names the one that failed; those loaded before it are released).
    Exporter(const std::vector<ToolConfig>& tools, const CollectorSettings& settings);

    // The /metrics text.
    std::string scrape();

    const std::vector<std::unique_ptr<Collector>>& collectors() const { return collectors_; }

  private:
    CollectorSettings settings_;
    std::vector<std::unique_ptr<Collector>> collectors_;
    std::mutex mutex_;
    std::uint64_t scrapes_ = 0;
};

} // namespace coretrace::exporter
