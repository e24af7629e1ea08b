// oomkill as metrics: OOM kills, in all and per victim command name. oomkill is an event tool:
// its records are counted in user space, the names in a table of at most max_series (kills of a
// name that finds it full are counted in the total only).
#include "capped_counts.hpp"
#include "collector.hpp"
#include "event_pump.hpp"
#include "oomkill_setup.hpp"

#include "coretrace/record_output.hpp"

#include <atomic>
#include <string>

namespace coretrace::exporter {

namespace {

class OomkillCollector : public Collector {
  public:
    explicit OomkillCollector(const CollectorSettings& settings)
        : skel_(oomkill::open()), by_comm_(settings.max_series),
          pump_(EventPump::start<oomkill_event>(
              skel_,
              [this](const oomkill_event& event) {
                  by_comm_.add(fixed_string(event.victim_comm));
                  kills_.fetch_add(1);
              },
              1u << 16)) {
        record_programs(skel_.object());
    }

    std::string_view tool() const override { return "oomkill"; }
    std::uint64_t lost() const override { return pump_->lost(); }

    void collect(prom::Exposition& out) override {
        out.family("coretrace_oomkill_kills_total", prom::MetricType::counter,
                   "Tasks the OOM killer chose as victims (oom:mark_victim; oomkill).");
        out.sample({}, static_cast<double>(kills_.load()));
        const auto counts = by_comm_.snapshot();
        out.family("coretrace_oomkill_victims_total", prom::MetricType::counter,
                   "OOM kills per victim command name (comm); names that found the table full "
                   "(its size is the series cap) are in coretrace_oomkill_kills_total only.");
        for (const auto& [comm, n] : counts.rows)
            out.sample({{"comm", comm}}, static_cast<double>(n));
    }

  private:
    Skeleton<oomkill_bpf> skel_;
    CappedCounts<std::string> by_comm_;
    std::atomic<std::uint64_t> kills_{0};
    std::unique_ptr<EventPump> pump_; // last: stopped first
};

} // namespace

std::unique_ptr<Collector> make_oomkill_collector(const CollectorSettings& settings) {
    return std::make_unique<OomkillCollector>(settings);
}

} // namespace coretrace::exporter
