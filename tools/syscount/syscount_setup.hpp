// syscount's kernel side, set up: the skeleton opened, its sys_enter/sys_exit hooks chosen,
// configured, loaded, the cgroup filter installed and attached. Shared by the syscount tool and
// the exporter (src/exporter/).
#pragma once

#include "syscount.skel.h"
#include "syscount.h"

#include "coretrace/hooks.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/syscall_names.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool_start.hpp"

#include <string_view>

namespace coretrace::syscount {

// raw_tp first: no perf event per attach, and the cheapest per call; the classic tracepoint
// for kernels without raw tracepoints (before 4.17).
inline constexpr std::string_view enter_sections[] = {"raw_tp/sys_enter",
                                                      "tp/raw_syscalls/sys_enter"};
inline constexpr std::string_view exit_sections[] = {"raw_tp/sys_exit", "tp/raw_syscalls/sys_exit"};
inline constexpr hooks::EventHooks hook_table[] = {{"syscall entry (-L)", enter_sections},
                                                   {"syscall exit", exit_sections}};

struct Settings {
    bool failures = false, latency = false, by_process = false;
    int filter_errno = 0;
};

// `filter` is validated by the caller (before it blocks signals or prints anything);
// `before_load`, if any, runs just before the object loads (the exporter pins maps there).
inline Skeleton<syscount_bpf> start(const Settings& settings, const TaskFilter& filter,
                                    const BeforeLoad& before_load = {}) {
    auto skel = Skeleton<syscount_bpf>::open();
    if (settings.latency)
        hooks::prefer(skel.object(), hook_table[0]);
    else
        hooks::skip(skel.object(), hook_table[0]);
    hooks::prefer(skel.object(), hook_table[1]);

    filter.configure(skel->rodata);
    skel->rodata->count_by_process = settings.by_process;
    skel->rodata->measure_latency = settings.latency;
    skel->rodata->filter_failed = settings.failures;
    skel->rodata->filter_errno = settings.filter_errno;
    skel->rodata->nr_exit = syscalls::number("exit").value_or(-1);
    skel->rodata->nr_exit_group = syscalls::number("exit_group").value_or(-1);
    bpf_map__set_max_entries(skel->maps.counts,
                             settings.by_process ? SYSCOUNT_PROCESS_KEYS : SYSCOUNT_SYSCALL_KEYS);
    if (!settings.latency)
        bpf_map__set_max_entries(skel->maps.start, 1); // unused
    load_and_attach(skel, filter, before_load);
    return skel;
}

} // namespace coretrace::syscount
