// cpudist as metrics: on-CPU time per scheduling slice, of every task, one histogram.
#include "cpudist_setup.hpp"
#include "system_histogram.hpp"

namespace coretrace::exporter {

std::unique_ptr<Collector> make_cpudist_collector(const CollectorSettings& settings) {
    const TaskFilter filter = cgroup_filter(settings);
    return std::make_unique<SystemHistogram<cpudist_bpf, cpudist_hist>>(
        SystemHistogramMetric{"cpudist", "coretrace_cpudist_oncpu_seconds",
                              "On-CPU time of each scheduling slice of every task (cpudist), from "
                              "log2 slots of whole microseconds; _sum is estimated from the slots.",
                              CPUDIST_ALL_KEY},
        cpudist::start({}, filter, pin_maps(settings, "cpudist", {"hists"})));
}

} // namespace coretrace::exporter
