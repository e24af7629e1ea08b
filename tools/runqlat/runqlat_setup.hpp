// runqlat's kernel side, set up: the skeleton opened, its wakeup and switch hooks chosen,
// configured, loaded, the cgroup filter installed and attached. Shared by the runqlat tool and
// the exporter (src/exporter/).
#pragma once

#include "runqlat.skel.h"
#include "runqlat.h"

#include "coretrace/hooks.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool_start.hpp"

#include <cstdint>
#include <string_view>

namespace coretrace::runqlat {

// raw_tp first, as cpudist: the same CO-RE reads per event, without the whole-kernel-BTF parse
// (~17 ms at start) that a tp_btf program costs. tp_btf stays for kernels without raw_tp.
inline constexpr std::string_view wakeup_sections[] = {"raw_tp/sched_wakeup",
                                                       "tp_btf/sched_wakeup"};
inline constexpr std::string_view wakeup_new_sections[] = {"raw_tp/sched_wakeup_new",
                                                           "tp_btf/sched_wakeup_new"};
inline constexpr std::string_view switch_sections[] = {"raw_tp/sched_switch",
                                                       "tp_btf/sched_switch"};
inline constexpr hooks::EventHooks hook_table[] = {{"sched_wakeup", wakeup_sections},
                                                   {"sched_wakeup_new", wakeup_new_sections},
                                                   {"sched_switch", switch_sections}};

struct Settings {
    bool milliseconds = false, per_process = false, per_thread = false, per_pidns = false;

    // The name of a histogram's key in text and JSON, or nullptr for the single histogram.
    const char* key_name() const {
        return per_process ? "pid" : per_thread ? "tid" : per_pidns ? "pidns" : nullptr;
    }
};

// `filter` is validated by the caller (before it blocks signals or prints anything);
// `before_load`, if any, runs just before the object loads (the exporter pins maps there).
inline Skeleton<runqlat_bpf> start(const Settings& settings, const TaskFilter& filter,
                                   const BeforeLoad& before_load = {}) {
    auto skel = Skeleton<runqlat_bpf>::open();
    for (const auto& event : hook_table)
        hooks::prefer(skel.object(), event);
    filter.configure(skel->rodata);
    skel->rodata->targ_per_process = settings.per_process;
    skel->rodata->targ_per_thread = settings.per_thread;
    skel->rodata->targ_per_pidns = settings.per_pidns;
    skel->rodata->targ_ms = settings.milliseconds;
    const auto pid_max = static_cast<std::uint32_t>(sys::pid_max());
    bpf_map__set_max_entries(skel->maps.ct_runq_start, pid_max);
    bpf_map__set_max_entries(skel->maps.cg_members, filter.cgroup_path.empty() ? 1 : pid_max);
    bpf_map__set_max_entries(skel->maps.hists, settings.key_name() ? pid_max : 1);
    load_and_attach(skel, filter, before_load);
    return skel;
}

} // namespace coretrace::runqlat
