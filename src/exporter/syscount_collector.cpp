// syscount as metrics: system calls counted as they return, per system call, system-wide.
#include "collector.hpp"
#include "syscount_setup.hpp"

#include "coretrace/map.hpp"
#include "coretrace/syscall_names.hpp"

#include <algorithm>

namespace coretrace::exporter {

namespace {

class SyscountCollector : public Collector {
  public:
    explicit SyscountCollector(const CollectorSettings& settings)
        : failures_(settings.options.flag("failures")),
          skel_(syscount::start(
              {.failures = failures_}, cgroup_filter(settings),
              pin_maps(settings, failures_ ? "syscount_failures" : "syscount", {"counts"}))),
          counts_(skel_->maps.counts) {
        restrict_pins(skel_.object());
        record_programs(skel_.object());
    }
    std::string_view tool() const override { return "syscount"; }
    std::uint64_t lost() const override { return skel_->bss->dropped; }

    void collect(prom::Exposition& out) override {
        out.family(failures_ ? "coretrace_syscount_failed_calls_total"
                             : "coretrace_syscount_calls_total",
                   prom::MetricType::counter,
                   failures_ ? "System calls that returned an error, per system call (syscount "
                               "-x)."
                             : "System calls that returned, per system call (syscount).");
        auto items = counts_.items();
        // Most frequent first: the series cap drops the rarest.
        std::sort(items.begin(), items.end(),
                  [](const auto& a, const auto& b) { return a.second.count > b.second.count; });
        for (const auto& [nr, value] : items)
            out.sample({{"syscall", syscalls::name(nr)}}, static_cast<double>(value.count));
    }

  private:
    bool failures_;
    Skeleton<syscount_bpf> skel_;
    HashMap<std::uint32_t, syscount_value> counts_;
};

} // namespace

std::unique_ptr<Collector> make_syscount_collector(const CollectorSettings& settings) {
    return std::make_unique<SyscountCollector>(settings);
}

} // namespace coretrace::exporter
