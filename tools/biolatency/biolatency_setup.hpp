// biolatency's kernel side, set up: the skeleton opened, its block_rq hooks chosen, configured,
// loaded, the cgroup filter installed and attached. Shared by the biolatency tool and the
// exporter (src/exporter/).
#pragma once

#include "biolatency.skel.h"
#include "biolatency.h"

#include "coretrace/hooks.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool_start.hpp"

#include <cstdint>
#include <string_view>

namespace coretrace::biolatency {

// raw_tp first: the same struct request reads as tp_btf, without libbpf parsing the whole kernel
// BTF to find a tp_btf attach point. libbpf-tools uses tp_btf, and classic tracepoints on kernels
// without BTF; these tracepoints' classic form carries no request pointer to pair events by.
inline constexpr std::string_view insert_sections[] = {"raw_tp/block_rq_insert",
                                                       "tp_btf/block_rq_insert"};
inline constexpr std::string_view issue_sections[] = {"raw_tp/block_rq_issue",
                                                      "tp_btf/block_rq_issue"};
inline constexpr std::string_view complete_sections[] = {"raw_tp/block_rq_complete",
                                                         "tp_btf/block_rq_complete"};
inline constexpr hooks::EventHooks hook_table[] = {
    {"block_rq_insert (-Q)", insert_sections},
    {"block_rq_issue", issue_sections},
    {"block_rq_complete", complete_sections},
};

struct Settings {
    bool queued = false, per_disk = false, per_flag = false, milliseconds = false;
    std::uint32_t dev = 0; // -d DISK's dev_t; 0: every disk
};

// `filter` is validated by the caller (before it blocks signals or prints anything);
// `before_load`, if any, runs just before the object loads (the exporter pins maps there).
inline Skeleton<biolatency_bpf> start(const Settings& settings, const TaskFilter& filter,
                                      const BeforeLoad& before_load = {}) {
    auto skel = Skeleton<biolatency_bpf>::open();
    if (settings.queued)
        hooks::prefer(skel.object(), hook_table[0]);
    else
        hooks::skip(skel.object(), hook_table[0]);
    hooks::prefer(skel.object(), hook_table[1]);
    hooks::prefer(skel.object(), hook_table[2]);
    filter.configure(skel->rodata);
    skel->rodata->targ_queued = settings.queued;
    skel->rodata->targ_per_disk = settings.per_disk;
    skel->rodata->targ_per_flag = settings.per_flag;
    skel->rodata->targ_ms = settings.milliseconds;
    skel->rodata->targ_dev = settings.dev;
    load_and_attach(skel, filter, before_load);
    return skel;
}

} // namespace coretrace::biolatency
