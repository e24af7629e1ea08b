// cpudist's kernel side, set up: the skeleton opened, its sched_switch hook chosen, configured,
// loaded, the cgroup filter installed and attached. Shared by the cpudist tool and the exporter
// (src/exporter/), so that both run the same programs the same way.
#pragma once

#include "cpudist.skel.h"
#include "cpudist.h"

#include "coretrace/hooks.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool_start.hpp"

#include <cstdint>
#include <string_view>

namespace coretrace::cpudist {

// raw_tp first: it costs the same per switch as tp_btf here (the same CO-RE reads), while a
// tp_btf program makes libbpf parse the whole kernel BTF to find its attach point (~17 ms
// and ~11 MiB more at every start, measured here). tp_btf stays for kernels without raw_tp.
inline constexpr std::string_view switch_sections[] = {"raw_tp/sched_switch",
                                                       "tp_btf/sched_switch"};
inline constexpr hooks::EventHooks hook_table[] = {{"sched_switch", switch_sections}};

struct Settings {
    bool offcpu = false, milliseconds = false, per_process = false, per_thread = false;
};

// `filter` is validated by the caller (before it blocks signals or prints anything);
// `before_load`, if any, runs just before the object loads (the exporter pins maps there).
inline Skeleton<cpudist_bpf> start(const Settings& settings, const TaskFilter& filter,
                                   const BeforeLoad& before_load = {}) {
    auto skel = Skeleton<cpudist_bpf>::open();
    hooks::prefer(skel.object(), hook_table[0]);
    filter.configure(skel->rodata);
    skel->rodata->targ_offcpu = settings.offcpu;
    skel->rodata->targ_per_process = settings.per_process;
    skel->rodata->targ_per_thread = settings.per_thread;
    skel->rodata->targ_ms = settings.milliseconds;
    const auto pid_max = static_cast<std::uint32_t>(sys::pid_max());
    bpf_map__set_max_entries(skel->maps.start, pid_max);
    bpf_map__set_max_entries(skel->maps.hists,
                             settings.per_process || settings.per_thread ? pid_max : 1);
    load_and_attach(skel, filter, before_load);
    return skel;
}

} // namespace coretrace::cpudist
