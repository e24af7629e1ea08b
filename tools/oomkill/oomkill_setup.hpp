// oomkill's kernel side, opened (not loaded: the event tool loads it with its stream): the
// skeleton and its oom:mark_victim hook chosen. Shared by the oomkill tool and the exporter
// (src/exporter/).
#pragma once

#include "oomkill.skel.h"
#include "oomkill.h"

#include "coretrace/hooks.hpp"
#include "coretrace/skeleton.hpp"

#include <string_view>

namespace coretrace::oomkill {

// libbpf-tools uses a kprobe on oom_kill_process(); the tracepoint is what works everywhere.
inline constexpr std::string_view victim_sections[] = {"tp/oom/mark_victim"};
inline constexpr hooks::EventHooks hook_table[] = {{"OOM victim marked", victim_sections}};

inline Skeleton<oomkill_bpf> open() {
    auto skel = Skeleton<oomkill_bpf>::open();
    hooks::prefer(skel.object(), hook_table[0]);
    return skel;
}

} // namespace coretrace::oomkill
