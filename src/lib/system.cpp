// Checks of the machine and the caller made before anything is loaded, each failing with one
// sentence that says what is wrong and what to do.
#include "coretrace/system.hpp"

#include "coretrace/error.hpp"

#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <optional>
#include <linux/capability.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace coretrace::sys {
namespace {

bool on_filesystem(const char* path, long magic) {
    struct statfs st {};
    return ::statfs(path, &st) == 0 && st.f_type == magic;
}

std::string cgroup2_mount_point() {
    auto found = mount_points("cgroup2");
    return found.empty() ? std::string() : found.front();
}

} // namespace

std::vector<std::string> mount_points(std::string_view fstype) {
    std::ifstream mounts("/proc/self/mounts");
    std::string device, where, type, rest;
    std::vector<std::string> found;
    while (mounts >> device >> where >> type && std::getline(mounts, rest))
        if (type == fstype)
            found.push_back(where);
    return found;
}

bool has_capability(int cap) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &header, data) != 0)
        return false;
    return data[cap / 32].effective & (1u << (cap % 32));
}

std::string read_first_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

int pid_max() {
    std::string text = read_first_line("/proc/sys/kernel/pid_max");
    int value = text.empty() ? 0 : std::atoi(text.c_str());
    if (value <= 0)
        throw Error("cannot read /proc/sys/kernel/pid_max");
    return value;
}

void require_thread(pid_t tid) {
    if (tid <= 0 || (::kill(tid, 0) != 0 && errno == ESRCH))
        throw Error(fmt::format("no thread with TID {}", tid), ESRCH);
}

void require_process(pid_t pid) {
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH))
        throw Error(fmt::format("no process with PID {}", pid), ESRCH);
    const auto tgid = tgid_of(pid);
    if (tgid && *tgid != pid)
        throw Error(fmt::format("{} is a thread of process {}, not a process: use -p {}", pid,
                                *tgid, *tgid),
                    EINVAL);
}

std::optional<pid_t> tgid_of(pid_t tid) {
    std::ifstream status(fmt::format("/proc/{}/status", tid));
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with("Tgid:"))
            return static_cast<pid_t>(std::atoi(line.c_str() + 5));
    return std::nullopt;
}

void require_bpf_privileges() {
    constexpr int cap_sys_admin = 21, cap_perfmon = 38, cap_bpf = 39;
    if (has_capability(cap_sys_admin) || (has_capability(cap_bpf) && has_capability(cap_perfmon)))
        return;
    throw Error("permission denied: loading BPF programs needs root (CAP_BPF and CAP_PERFMON, or "
                "CAP_SYS_ADMIN); run with sudo",
                EPERM);
}

std::string require_tracefs() {
    static std::string cached;
    if (!cached.empty())
        return cached;
    constexpr const char* tracing = "/sys/kernel/tracing";
    constexpr const char* legacy = "/sys/kernel/debug/tracing";
    if (on_filesystem(tracing, TRACEFS_MAGIC))
        return cached = tracing;
    if (::mount("nodev", tracing, "tracefs", 0, nullptr) == 0)
        return cached = tracing;
    int err = errno;
    if (on_filesystem(legacy, TRACEFS_MAGIC))
        return cached = legacy;
    throw_system_error("tracefs is not mounted at /sys/kernel/tracing and mounting it failed", err);
}

UniqueFd open_cgroup_v2(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT)
            throw Error(fmt::format("cgroup path {} does not exist", path), ENOENT);
        throw_system_error(fmt::format("cannot open cgroup path {}", path), errno);
    }
    struct statfs st {};
    if (::fstatfs(fd.get(), &st) != 0 || st.f_type != CGROUP2_SUPER_MAGIC) {
        std::string where = cgroup2_mount_point();
        throw Error(fmt::format("{} is not a cgroup v2 directory ({})", path,
                                where.empty() ? "cgroup v2 is not mounted"
                                              : "cgroup v2 is mounted at " + where),
                    EINVAL);
    }
    return fd;
}

} // namespace coretrace::sys
