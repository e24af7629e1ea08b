// The collector of a tool that keeps one log2 histogram of durations, in whole microseconds, for
// every task (cpudist and runqlat without -P/-L): the single key of its `hists` map, written as
// a histogram in seconds (exposition.hpp: SlotBound::truncated).
#pragma once

#include "collector.hpp"

#include "coretrace/map.hpp"
#include "coretrace/skeleton.hpp"

#include <cstdint>
#include <string_view>
#include <utility>

namespace coretrace::exporter {

struct SystemHistogramMetric {
    std::string_view tool;
    std::string_view name;
    std::string_view help;
    std::uint32_t key; // of the single histogram in `hists`
};

template <typename Bpf, typename Hist> class SystemHistogram : public Collector {
  public:
    // `skel` is loaded and attached.
    SystemHistogram(const SystemHistogramMetric& metric, Skeleton<Bpf> skel)
        : metric_(metric), skel_(std::move(skel)), hists_(skel_->maps.hists) {
        restrict_pins(skel_.object());
        record_programs(skel_.object());
    }
    std::string_view tool() const override { return metric_.tool; }

    void collect(prom::Exposition& out) override {
        out.family(metric_.name, prom::MetricType::histogram, metric_.help);
        const Hist hist = hists_.lookup(metric_.key).value_or(Hist{});
        out.histogram({}, prom::log2_histogram(hist.slots, prom::SlotBound::truncated, 1e-6));
    }

  private:
    SystemHistogramMetric metric_;
    Skeleton<Bpf> skel_;
    HashMap<std::uint32_t, Hist> hists_;
};

} // namespace coretrace::exporter
