// The C++ half of bpf/include/coretrace/filter.bpf.h: declares the -p/-t/-u/-c options, validates
// their input before anything loads, writes the .rodata switches, and installs the cgroup after
// load.
#pragma once

#include "coretrace/fd.hpp"

#include <bpf/libbpf.h>
#include <optional>
#include <string>
#include <sys/types.h>

namespace CLI {
class App;
class Option;
} // namespace CLI

namespace coretrace {

class TaskFilter {
  public:
    pid_t tgid = 0;           // 0: any process
    pid_t tid = 0;            // 0: any thread
    std::string cgroup_path;  // empty: any cgroup
    std::optional<uid_t> uid; // real user ID; none: any user

    // Throws a one-line Error for a PID that does not exist or a bad cgroup path.
    void validate();
    // Before load: the filter.bpf.h globals of a skeleton's .rodata.
    template <typename Rodata> void configure(Rodata* rodata) const {
        rodata->ct_targ_tgid = static_cast<__u32>(tgid);
        rodata->ct_targ_tid = static_cast<__u32>(tid);
        rodata->ct_filter_cgroup = cgroup_fd_.get() >= 0;
        rodata->ct_filter_uid = uid.has_value();
        rodata->ct_targ_uid = static_cast<__u32>(uid.value_or(0));
    }
    // After load: puts the cgroup into the ct_cgroup_filter map (no-op without -c).
    void install(bpf_map* cgroup_filter_map) const;

  private:
    UniqueFd cgroup_fd_;
};

// The command-line options of a TaskFilter, each bound straight to its member, with the usual
// flags and help; a tool whose original words one differently passes its own. Each returns the
// option, for a tool that adds to it.
CLI::Option* add_pid_option(CLI::App& app, TaskFilter& filter,
                            const std::string& help = "Process ID to trace");
CLI::Option* add_tid_option(CLI::App& app, TaskFilter& filter,
                            const std::string& flags = "-t,--tid",
                            const std::string& help = "Thread ID to trace");
CLI::Option* add_uid_option(CLI::App& app, TaskFilter& filter, const std::string& help);
CLI::Option*
add_cgroup_option(CLI::App& app, TaskFilter& filter,
                  const std::string& help = "Trace processes in this cgroup v2 path only");

} // namespace coretrace
