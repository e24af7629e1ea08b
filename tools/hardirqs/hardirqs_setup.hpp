// hardirqs' kernel side, set up: the skeleton opened, its irq_handler_entry/exit hooks chosen,
// configured, loaded, the cgroup filter installed and attached. Shared by the hardirqs tool and
// the exporter (src/exporter/).
#pragma once

#include "hardirqs.skel.h"
#include "hardirqs.h"

#include "coretrace/hooks.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool_start.hpp"

#include <string_view>

namespace coretrace::hardirqs {

// raw_tp first (no whole-kernel BTF parse at start-up), tp_btf next, the classic tracepoint
// last; all three see the same events. The classic one reads the name from its record.
inline constexpr std::string_view entry_sections[] = {
    "raw_tp/irq_handler_entry", "tp_btf/irq_handler_entry", "tp/irq/irq_handler_entry"};
inline constexpr std::string_view exit_sections[] = {
    "raw_tp/irq_handler_exit", "tp_btf/irq_handler_exit", "tp/irq/irq_handler_exit"};
inline constexpr hooks::EventHooks hook_table[] = {{"irq_handler_entry", entry_sections},
                                                   {"irq_handler_exit", exit_sections}};

struct Settings {
    bool count = false;       // -C: count at entry, no timing (no exit program)
    bool distributed = false; // -d: a log2 histogram of the time per run, per handler
    bool nanoseconds = false; // -N
};

// `filter` is validated by the caller (before it blocks signals or prints anything);
// `before_load`, if any, runs just before the object loads (the exporter pins maps there).
inline Skeleton<hardirqs_bpf> start(const Settings& settings, const TaskFilter& filter,
                                    const BeforeLoad& before_load = {}) {
    auto skel = Skeleton<hardirqs_bpf>::open();
    hooks::prefer(skel.object(), hook_table[0]);
    if (settings.count)
        hooks::skip(skel.object(), hook_table[1]); // counted at entry: no exit program
    else
        hooks::prefer(skel.object(), hook_table[1]);
    filter.configure(skel->rodata);
    skel->rodata->targ_count = settings.count;
    skel->rodata->targ_dist = settings.distributed;
    skel->rodata->targ_ns = settings.nanoseconds;
    load_and_attach(skel, filter, before_load);
    return skel;
}

} // namespace coretrace::hardirqs
