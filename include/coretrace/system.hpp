// Facts about the machine and the caller that tools check before loading anything.
#pragma once

#include "coretrace/fd.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace coretrace::sys {

// /proc/sys/kernel/pid_max.
int pid_max();
// Throws Error("no process with PID N") unless the process exists, and a clear Error when `pid`
// is a thread of another process (tracing it by PID would silently match nothing).
void require_process(pid_t pid);
// Throws Error("no thread with TID N") unless the thread exists.
void require_thread(pid_t tid);
// The process (thread group) of thread `tid`, from /proc; nullopt when it no longer exists.
std::optional<pid_t> tgid_of(pid_t tid);
// Whether the calling thread has capability `cap` (CAP_* number) in its effective set.
bool has_capability(int cap);
// Throws a clear Error unless the caller can load and attach tracing programs (root, or
// CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN).
void require_bpf_privileges();
// tracefs root, mounted if missing; throws if that is impossible.
std::string require_tracefs();
// Opens a cgroup v2 directory for a cgroup array; throws a clear Error for a missing path or a
// path that is not on cgroup v2.
UniqueFd open_cgroup_v2(const std::string& path);
// Where file systems of type `fstype` ("bpf", "cgroup2", ...) are mounted, as /proc/self/mounts
// lists them (octal escapes such as \040 left as they are).
std::vector<std::string> mount_points(std::string_view fstype);
// The first line of a file (trailing newline removed), or "" if unreadable.
std::string read_first_line(const std::string& path);

} // namespace coretrace::sys
