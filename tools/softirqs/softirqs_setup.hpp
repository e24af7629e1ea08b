// softirqs' kernel side, set up: the skeleton opened, its softirq_entry/exit hooks chosen,
// configured, loaded (its totals are in .bss, read through the memory-mapped map) and attached.
// Shared by the softirqs tool and the exporter (src/exporter/).
#pragma once

#include "softirqs.skel.h"
#include "softirqs.h"

#include "coretrace/error.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/skeleton.hpp"

#include <string_view>

namespace coretrace::softirqs {

inline constexpr std::string_view entry_sections[] = {
    "raw_tp/softirq_entry", "tp_btf/softirq_entry", "tp/irq/softirq_entry"};
inline constexpr std::string_view exit_sections[] = {"raw_tp/softirq_exit", "tp_btf/softirq_exit",
                                                     "tp/irq/softirq_exit"};
inline constexpr hooks::EventHooks hook_table[] = {{"softirq_entry", entry_sections},
                                                   {"softirq_exit", exit_sections}};

// The kernel's names for the vectors (as libbpf-tools prints them; /proc/softirqs has them in
// upper case, in the same order).
inline constexpr const char* vector_names[SOFTIRQS_NR_VECTORS] = {
    "hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched", "hrtimer", "rcu"};

struct Settings {
    bool distributed = false; // -d: a log2 histogram of the time per run, per vector
    bool nanoseconds = false; // -N
    int cpu = -1;             // -c: this CPU only (checked by the caller); -1: every CPU
};

inline Skeleton<softirqs_bpf> start(const Settings& settings) {
    auto skel = Skeleton<softirqs_bpf>::open();
    hooks::prefer(skel.object(), hook_table[0]);
    hooks::prefer(skel.object(), hook_table[1]);
    skel->rodata->targ_dist = settings.distributed;
    skel->rodata->targ_ns = settings.nanoseconds;
    skel->rodata->targ_cpu = settings.cpu;
    skel.load();
    if (!skel->bss)
        throw Error("this kernel cannot memory-map BPF maps (Linux 5.7 or later is needed)");
    skel.attach();
    return skel;
}

} // namespace coretrace::softirqs
