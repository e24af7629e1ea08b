// softirqs as metrics: softirq runs and time per vector (label `vector`: hi, timer, net_rx...).
// By default the time is summed in nanoseconds (softirqs -N) into a counter of seconds; with
// softirqs:dist, each vector has a histogram of the time per run instead (softirqs -d), in log2
// slots of whole microseconds. The totals are the BPF side's .bss, read where it is mapped.
#include "collector.hpp"
#include "softirqs_setup.hpp"

#include "coretrace/error.hpp"

#include <array>
#include <fmt/format.h>
#include <unistd.h>

namespace coretrace::exporter {

namespace {

template <typename T> T load(const T& value) {
    return __atomic_load_n(&value, __ATOMIC_RELAXED);
}

softirqs::Settings softirqs_settings(const CollectorSettings& settings) {
    softirqs::Settings softirqs;
    softirqs.distributed = settings.options.flag("dist");
    softirqs.nanoseconds = !softirqs.distributed;
    softirqs.cpu = static_cast<int>(settings.options.number("cpu", -1));
    const long cpus = ::sysconf(_SC_NPROCESSORS_CONF);
    if (softirqs.cpu >= cpus)
        throw Error(fmt::format("softirqs: cpu {} does not exist (this machine has cpus 0 to {})",
                                softirqs.cpu, cpus - 1));
    return softirqs;
}

class SoftirqsCollector : public Collector {
  public:
    explicit SoftirqsCollector(const CollectorSettings& settings)
        : settings_(softirqs_settings(settings)), skel_(softirqs::start(settings_)) {
        record_programs(skel_.object());
    }
    std::string_view tool() const override { return "softirqs"; }
    std::uint64_t lost() const override {
        return load(skel_->bss->unknown_vectors) + recursion_misses(skel_.object());
    }

    void collect(prom::Exposition& out) override {
        const auto& bss = *skel_->bss;
        out.family("coretrace_softirqs_runs_total", prom::MetricType::counter,
                   "Softirq runs, per vector (softirqs -C; /proc/softirqs counts the same).");
        for (int v = 0; v < SOFTIRQS_NR_VECTORS; v++)
            out.sample({{"vector", softirqs::vector_names[v]}},
                       static_cast<double>(load(bss.counts[v])));
        if (settings_.distributed) {
            out.family("coretrace_softirqs_seconds", prom::MetricType::histogram,
                       "Time in each softirq run, per vector (softirqs -d), from log2 slots of "
                       "whole microseconds; _sum is estimated from the slots.");
            for (int v = 0; v < SOFTIRQS_NR_VECTORS; v++) {
                std::array<std::uint32_t, SOFTIRQS_MAX_SLOTS> slots;
                for (int i = 0; i < SOFTIRQS_MAX_SLOTS; i++)
                    slots[static_cast<std::size_t>(i)] = load(bss.hists[v][i]);
                out.histogram({{"vector", softirqs::vector_names[v]}},
                              prom::log2_histogram(slots, prom::SlotBound::truncated, 1e-6));
            }
            return;
        }
        out.family("coretrace_softirqs_seconds_total", prom::MetricType::counter,
                   "Time spent in softirq handlers, per vector (softirqs, summed in "
                   "nanoseconds).");
        for (int v = 0; v < SOFTIRQS_NR_VECTORS; v++)
            out.sample({{"vector", softirqs::vector_names[v]}},
                       static_cast<double>(load(bss.times[v])) / 1e9);
    }

  private:
    softirqs::Settings settings_;
    Skeleton<softirqs_bpf> skel_;
};

} // namespace

std::unique_ptr<Collector> make_softirqs_collector(const CollectorSettings& settings) {
    return std::make_unique<SoftirqsCollector>(settings);
}

} // namespace coretrace::exporter
