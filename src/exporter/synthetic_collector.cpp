// The benchmarks' collector (bench/exporter.py), run only when named: `synthetic:series=N` serves
// N counter series of one family, coretrace_exporter_synthetic_total{series="0".."N-1"}, with
// no BPF behind them, so that the cost of a scrape can be measured at a known number of series.
// Their values grow by one at each scrape.
#include "collector.hpp"

#include <string>

namespace coretrace::exporter {

namespace {

class SyntheticCollector : public Collector {
  public:
    explicit SyntheticCollector(const CollectorSettings& settings)
        : series_(settings.options.number("series", 100)) {}

    std::string_view tool() const override { return "synthetic"; }

    void collect(prom::Exposition& out) override {
        scrapes_++;
        out.family("coretrace_exporter_synthetic_total", prom::MetricType::counter,
                   "Synthetic counters for benchmarks (synthetic:series=N).");
        for (long i = 0; i < series_; i++)
            out.sample({{"series", std::to_string(i)}}, static_cast<double>(scrapes_ + i));
    }

  private:
    long series_;
    std::uint64_t scrapes_ = 0;
};

} // namespace

std::unique_ptr<Collector> make_synthetic_collector(const CollectorSettings& settings) {
    return std::make_unique<SyntheticCollector>(settings);
}

} // namespace coretrace::exporter
