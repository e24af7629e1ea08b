// runqlat as metrics: run queue latency of every task, one histogram.
#include "runqlat_setup.hpp"
#include "system_histogram.hpp"

namespace coretrace::exporter {

std::unique_ptr<Collector> make_runqlat_collector(const CollectorSettings& settings) {
    const TaskFilter filter = cgroup_filter(settings);
    return std::make_unique<SystemHistogram<runqlat_bpf, runqlat_hist>>(
        SystemHistogramMetric{"runqlat", "coretrace_runqlat_seconds",
                              "Run queue latency (runqlat): from a task becoming runnable to its "
                              "running, from log2 slots of whole microseconds; _sum is estimated "
                              "from the slots.",
                              RUNQLAT_ALL_KEY},
        runqlat::start({}, filter, pin_maps(settings, "runqlat", {"hists"})));
}

} // namespace coretrace::exporter
