// cpudist as metrics: on-CPU time per scheduling slice (off-CPU time with cpudist:offcpu), of
// every task, one histogram.
#include "cpudist_setup.hpp"
#include "system_histogram.hpp"

namespace coretrace::exporter {

std::unique_ptr<Collector> make_cpudist_collector(const CollectorSettings& settings) {
    const TaskFilter filter = cgroup_filter(settings);
    cpudist::Settings cpudist;
    cpudist.offcpu = settings.options.flag("offcpu");
    const SystemHistogramMetric metric =
        cpudist.offcpu
            ? SystemHistogramMetric{"cpudist", "coretrace_cpudist_offcpu_seconds",
                                    "Off-CPU time of each task between two scheduling slices "
                                    "(cpudist -O), from log2 slots of whole microseconds; _sum "
                                    "is estimated from the slots.",
                                    CPUDIST_ALL_KEY}
            : SystemHistogramMetric{"cpudist", "coretrace_cpudist_oncpu_seconds",
                                    "On-CPU time of each scheduling slice of every task "
                                    "(cpudist), from log2 slots of whole microseconds; _sum is "
                                    "estimated from the slots.",
                                    CPUDIST_ALL_KEY};
    // The pins of on-CPU and off-CPU histograms differ: a restart with the other never mixes.
    return std::make_unique<SystemHistogram<cpudist_bpf, cpudist_hist>>(
        metric, cpudist::start(
                    cpudist, filter,
                    pin_maps(settings, cpudist.offcpu ? "cpudist_offcpu" : "cpudist", {"hists"})));
}

} // namespace coretrace::exporter
