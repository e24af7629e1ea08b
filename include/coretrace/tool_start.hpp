// The end of a tool's set-up, shared by the tools' start functions (tools/NAME/NAME_setup.hpp):
// an optional step just before load (the exporter pins maps there), load, the cgroup filter
// installed, attach.
#pragma once

#include "coretrace/skeleton.hpp"
#include "coretrace/task_filter.hpp"

#include <bpf/libbpf.h>
#include <functional>

namespace coretrace {

// Runs just before a skeleton loads, with its object.
using BeforeLoad = std::function<void(bpf_object*)>;

// For a skeleton whose BPF side includes coretrace/filter.bpf.h (its ct_cgroup_filter map).
template <typename Bpf>
void load_and_attach(Skeleton<Bpf>& skel, const TaskFilter& filter,
                     const BeforeLoad& before_load = {}) {
    if (before_load)
        before_load(skel.object());
    skel.load();
    filter.install(skel->maps.ct_cgroup_filter);
    skel.attach();
}

} // namespace coretrace
