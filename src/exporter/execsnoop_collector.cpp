// execsnoop as metrics: successful execve(2)/execveat(2) calls, counted per new command name.
// execsnoop is an event tool, so this collector drains its ring buffer on a thread and counts in
// user space; a table of at most max_series command names keeps the series bounded (execs of
// names that find it full are counted apart).
#include "capped_counts.hpp"
#include "collector.hpp"
#include "event_pump.hpp"
#include "execsnoop_setup.hpp"

#include "coretrace/record_output.hpp"

#include <string>

namespace coretrace::exporter {

namespace {

// Only the path is read from each call: the counts need the command name alone.
execsnoop::Settings path_only() {
    execsnoop::Settings settings;
    settings.max_args = 1;
    return settings;
}

class ExecsnoopCollector : public Collector {
  public:
    explicit ExecsnoopCollector(const CollectorSettings& settings)
        : skel_(execsnoop::open(path_only())), by_comm_(settings.max_series),
          pump_(EventPump::start<execsnoop_event>(
              skel_, cgroup_filter(settings),
              [this](const execsnoop_event& event) {
                  if (event.retval == 0)
                      by_comm_.add(fixed_string(event.comm));
              },
              1u << 22)) {
        record_programs(skel_.object());
    }

    std::string_view tool() const override { return "execsnoop"; }
    std::uint64_t lost() const override { return pump_->lost() + skel_->bss->calls_dropped; }

    void collect(prom::Exposition& out) override {
        const auto counts = by_comm_.snapshot();
        out.family("coretrace_execsnoop_execs_total", prom::MetricType::counter,
                   "Successful execve(2) and execveat(2) calls per new command name (comm), "
                   "as execsnoop sees them.");
        for (const auto& [comm, n] : counts.rows)
            out.sample({{"comm", comm}}, static_cast<double>(n));
        out.family("coretrace_execsnoop_execs_over_cap_total", prom::MetricType::counter,
                   "Successful exec calls of command names that found the table of names full "
                   "(its size is the series cap): counted, without a comm series.");
        out.sample({}, static_cast<double>(counts.over_cap));
    }

  private:
    Skeleton<execsnoop_bpf> skel_;
    CappedCounts<std::string> by_comm_;
    std::unique_ptr<EventPump> pump_; // last: stopped first
};

} // namespace

std::unique_ptr<Collector> make_execsnoop_collector(const CollectorSettings& settings) {
    return std::make_unique<ExecsnoopCollector>(settings);
}

} // namespace coretrace::exporter
