// Test support: the BPF programs, maps and links a process holds (from /proc/PID/fdinfo) and
// whether they still exist in the kernel, to prove that a tool leaves nothing behind.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

namespace coretrace::test {

struct BpfObjects {
    std::set<unsigned> progs, maps, links;
    bool empty() const { return progs.empty() && maps.empty() && links.empty(); }
};

// " prog 12 map 34 link 56 ...", for messages.
std::string describe(const BpfObjects& objects);

// What `pid` holds through its file descriptors now.
BpfObjects held_by(pid_t pid);
// Those of `objects` that still exist, after waiting up to `timeout` for the kernel to free them
// (it frees them asynchronously).
BpfObjects still_loaded(const BpfObjects& objects, std::chrono::milliseconds timeout);
// Ids of loaded programs whose name is one of `names` (kernel names: 15 characters at most).
std::set<unsigned> programs_named(const std::vector<std::string>& names);

} // namespace coretrace::test
