// The file-backed mappings of a running process (/proc/PID/maps): which ELF files it maps, and
// which mapped file a library name like "libc.so.6" or "libc" means in that process.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace coretrace::proc {

// Every distinct file the process maps (its executable first, in address order), as paths
// readable from here: the mapped path, or /proc/PID/root/PATH when the process lives in another
// mount namespace. Deleted files are left out. Throws Error for a process that does not exist.
std::vector<std::string> mapped_files(pid_t pid);

// The file of `pid`'s mappings that `name` designates: a path containing '/' is compared with
// the mapped paths as it is; otherwise the base name equals `name`, or begins with "name.so" or
// "name-" ("libc" finds libc.so.6). nullopt when the process maps no such file.
std::optional<std::string> find_mapped_file(pid_t pid, std::string_view name);

} // namespace coretrace::proc
