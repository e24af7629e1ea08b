// hardirqs as metrics: hard interrupt handler runs and time, per handler name (label `irq`, the
// name hardirqs prints: irqaction::name, e.g. "virtio0-requests"). By default the time is summed
// in nanoseconds (hardirqs -N) into a counter of seconds; with hardirqs:dist, each handler has a
// histogram of the time per run instead (hardirqs -d), in log2 slots of whole microseconds.
#include "collector.hpp"
#include "hardirqs_setup.hpp"

#include "coretrace/map.hpp"
#include "coretrace/record_output.hpp"

#include <algorithm>

namespace coretrace::exporter {

namespace {

class HardirqsCollector : public Collector {
  public:
    explicit HardirqsCollector(const CollectorSettings& settings)
        : dist_(settings.options.flag("dist")),
          skel_(hardirqs::start(
              {.distributed = dist_, .nanoseconds = !dist_}, cgroup_filter(settings),
              pin_maps(settings, dist_ ? "hardirqs_dist" : "hardirqs", {"infos"}))),
          infos_(skel_->maps.infos) {
        restrict_pins(skel_.object());
        record_programs(skel_.object());
    }
    std::string_view tool() const override { return "hardirqs"; }
    // Runs not recorded: a full `infos`, and the runs the kernel skipped (a BPF program
    // already running on that CPU).
    std::uint64_t lost() const override {
        return skel_->bss->infos_full + recursion_misses(skel_.object());
    }

    void collect(prom::Exposition& out) override {
        auto items = infos_.items();
        // Busiest first: the series cap drops the quietest.
        std::sort(items.begin(), items.end(),
                  [](const auto& a, const auto& b) { return a.second.count > b.second.count; });
        out.family("coretrace_hardirqs_runs_total", prom::MetricType::counter,
                   "Hard interrupt handler runs, per handler name (hardirqs -C).");
        for (const auto& [key, info] : items)
            out.sample({{"irq", fixed_string(key.name)}}, static_cast<double>(info.count));
        if (dist_) {
            out.family("coretrace_hardirqs_seconds", prom::MetricType::histogram,
                       "Time in each hard interrupt handler run, per handler name (hardirqs "
                       "-d), from log2 slots of whole microseconds; _sum is estimated from the "
                       "slots.");
            for (const auto& [key, info] : items)
                out.histogram({{"irq", fixed_string(key.name)}},
                              prom::log2_histogram(info.slots, prom::SlotBound::truncated, 1e-6));
            return;
        }
        out.family("coretrace_hardirqs_seconds_total", prom::MetricType::counter,
                   "Time spent in hard interrupt handlers, per handler name (hardirqs, summed "
                   "in nanoseconds).");
        for (const auto& [key, info] : items)
            out.sample({{"irq", fixed_string(key.name)}}, static_cast<double>(info.total) / 1e9);
    }

  private:
    bool dist_;
    Skeleton<hardirqs_bpf> skel_;
    HashMap<hardirqs_key, hardirqs_info> infos_;
};

} // namespace

std::unique_ptr<Collector> make_hardirqs_collector(const CollectorSettings& settings) {
    return std::make_unique<HardirqsCollector>(settings);
}

} // namespace coretrace::exporter
