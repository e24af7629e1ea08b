// The options, validation and installation of the in-kernel PID/TID/UID/cgroup filters.
#include "coretrace/task_filter.hpp"

#include "coretrace/error.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

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

CLI::Option* add_pid_option(CLI::App& app, TaskFilter& filter, const std::string& help) {
    return app.add_option("-p,--pid", filter.tgid, help)->check(positive_integer);
}

CLI::Option* add_tid_option(CLI::App& app, TaskFilter& filter, const std::string& flags,
                            const std::string& help) {
    return app.add_option(flags, filter.tid, help)->check(positive_integer);
}

CLI::Option* add_uid_option(CLI::App& app, TaskFilter& filter, const std::string& help) {
    return app.add_option("-u,--uid", filter.uid, help)->check(user_id);
}

CLI::Option* add_cgroup_option(CLI::App& app, TaskFilter& filter, const std::string& help) {
    return app.add_option("-c,--cgroup", filter.cgroup_path, help);
}

} // namespace coretrace
