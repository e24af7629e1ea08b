// biolatency as metrics: block I/O latency (issue to completion), one histogram per disk.
#include "biolatency_setup.hpp"
#include "collector.hpp"

#include "coretrace/block_devices.hpp"
#include "coretrace/histogram.hpp"
#include "coretrace/map.hpp"

#include <algorithm>

namespace coretrace::exporter {

namespace {

biolatency::Settings per_disk(const CollectorSettings& collector) {
    biolatency::Settings settings;
    settings.per_disk = true;
    settings.queued = collector.options.flag("queued");
    return settings;
}

class BiolatencyCollector : public Collector {
  public:
    explicit BiolatencyCollector(const CollectorSettings& settings)
        : queued_(settings.options.flag("queued")),
          skel_(biolatency::start(
              per_disk(settings), cgroup_filter(settings),
              pin_maps(settings, queued_ ? "biolatency_queued" : "biolatency", {"hists"}))),
          hists_(skel_->maps.hists) {
        restrict_pins(skel_.object());
        record_programs(skel_.object());
    }
    std::string_view tool() const override { return "biolatency"; }
    std::uint64_t lost() const override { return skel_->bss->starts_dropped; }

    void collect(prom::Exposition& out) override {
        out.family("coretrace_biolatency_seconds", prom::MetricType::histogram,
                   queued_ ? "Block I/O latency per disk (biolatency -D -Q): from insertion in "
                             "the kernel's queue to completion, from log2 slots of whole "
                             "microseconds; _sum is estimated from the slots."
                           : "Block I/O latency per disk (biolatency -D): from issue to the "
                             "device to completion, from log2 slots of whole microseconds; _sum "
                             "is estimated from the slots.");
        auto items = hists_.items();
        // Busiest disks first: the series cap drops the quietest.
        std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) {
            return hist_total(a.second.slots) > hist_total(b.second.slots);
        });
        for (const auto& [key, hist] : items)
            out.histogram({{"disk", disks_(key.dev)}},
                          prom::log2_histogram(hist.slots, prom::SlotBound::truncated, 1e-6));
    }

  private:
    bool queued_;
    Skeleton<biolatency_bpf> skel_;
    HashMap<biolatency_key, biolatency_hist> hists_;
    block::DiskNames disks_;
};

} // namespace

std::unique_ptr<Collector> make_biolatency_collector(const CollectorSettings& settings) {
    return std::make_unique<BiolatencyCollector>(settings);
}

} // namespace coretrace::exporter
