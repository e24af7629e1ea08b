// /proc/PID/maps reader: a line is "start-end perms offset dev inode   path"; anonymous and
// special mappings ([heap], [vdso]) have no path starting with '/'.
#include "coretrace/process_maps.hpp"

#include "coretrace/error.hpp"
#include "coretrace/system.hpp"

#include <fmt/format.h>
#include <fstream>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace coretrace::proc {

namespace {

// The mapped paths as the kernel names them, each once, in address order.
std::vector<std::string> mapped_paths(pid_t pid) {
    sys::require_process(pid);
    std::ifstream maps(fmt::format("/proc/{}/maps", pid));
    if (!maps)
        throw Error(fmt::format("cannot read /proc/{}/maps", pid));
    std::vector<std::string> paths;
    std::set<std::string> seen;
    for (std::string line; std::getline(maps, line);) {
        auto slash = line.find('/');
        if (slash == std::string::npos || line.ends_with(" (deleted)"))
            continue;
        std::string path = line.substr(slash);
        if (seen.insert(path).second)
            paths.push_back(std::move(path));
    }
    return paths;
}

// `path` as this process can open it, or "" when it cannot.
std::string readable(pid_t pid, const std::string& path) {
    if (::access(path.c_str(), R_OK) == 0)
        return path;
    std::string inside = fmt::format("/proc/{}/root{}", pid, path);
    return ::access(inside.c_str(), R_OK) == 0 ? inside : std::string{};
}

// Whether mapped `path` (readable as `file`) is what `name` designates. A path is compared by
// device and inode, so /lib/x86_64-linux-gnu/libc.so.6 finds /usr/lib/x86_64-linux-gnu/libc.so.6.
bool names(std::string_view path, const std::string& file, std::string_view name) {
    if (name.find('/') != std::string_view::npos) {
        struct stat wanted {
        }, mapped{};
        return ::stat(std::string(name).c_str(), &wanted) == 0 &&
               ::stat(file.c_str(), &mapped) == 0 && wanted.st_dev == mapped.st_dev &&
               wanted.st_ino == mapped.st_ino;
    }
    auto slash = path.rfind('/');
    std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
    if (base == name)
        return true;
    std::string so = std::string(name) + ".so", dash = std::string(name) + "-";
    return base.starts_with(so) || base.starts_with(dash);
}

} // namespace

std::vector<std::string> mapped_files(pid_t pid) {
    std::vector<std::string> files;
    for (const auto& path : mapped_paths(pid))
        if (auto file = readable(pid, path); !file.empty())
            files.push_back(std::move(file));
    return files;
}

std::optional<std::string> find_mapped_file(pid_t pid, std::string_view name) {
    for (const auto& path : mapped_paths(pid))
        if (auto file = readable(pid, path); !file.empty() && names(path, file, name))
            return file;
    return std::nullopt;
}

} // namespace coretrace::proc
