// Validation and installation of the in-kernel PID/TID/cgroup filters.
#include "coretrace/task_filter.hpp"

#include "coretrace/error.hpp"
#include "coretrace/system.hpp"

#include <bpf/bpf.h>

namespace coretrace {

void TaskFilter::validate() {
    if (tgid)
        sys::require_process(tgid);
    if (tid)
        sys::require_thread(tid);
    if (!cgroup_path.empty())
        cgroup_fd_ = sys::open_cgroup_v2(cgroup_path);
}

void TaskFilter::install(bpf_map* cgroup_filter_map) const {
    if (!cgroup_fd_)
        return;
    std::uint32_t index = 0;
    int fd = cgroup_fd_.get();
    check_libbpf(bpf_map_update_elem(bpf_map__fd(cgroup_filter_map), &index, &fd, BPF_ANY),
                 "installing the cgroup filter");
}

} // namespace coretrace
