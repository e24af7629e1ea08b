// A USDT probe named "provider:name", found in a binary (a path, or a library or program name
// resolved like elf::resolve_binary) or in every file a running process maps, and attached with
// libbpf's USDT support (which decodes the arguments for bpf_usdt_arg() and, for a probe with a
// semaphore, has the kernel count it up while attached).
#pragma once

#include "coretrace/link.hpp"
#include "coretrace/usdt_notes.hpp"

#include <bpf/libbpf.h>
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace coretrace::usdt {

struct ProbeName {
    std::string provider, name;
};

// "provider:name"; throws Error for anything else.
ProbeName parse_probe_name(std::string_view text);

// One file holding the probe (a probe can sit at several places in one file).
struct Location {
    std::string path;          // readable from here
    std::vector<Probe> probes; // its notes for the probe
};

// The files holding `probe`: `binary` alone when given, else every file `pid` maps. Throws Error
// for a missing file, a process that does not exist, and "no USDT probe P:N in ..." when no file
// has it.
std::vector<Location> find(const ProbeName& probe, const std::string& binary, pid_t pid = -1);

// Attaches `program` (SEC("usdt")) to every place of `probe` in `location`, for process `pid`
// (-1: every process). Throws Error naming the probe.
Link attach(bpf_program* program, const Location& location, const ProbeName& probe, pid_t pid,
            std::uint64_t cookie = 0);

} // namespace coretrace::usdt
