// Block devices as the block tools (biolatency, biosnoop, bitesize, biotop, ...) name them: disk
// names from /proc/partitions and sysfs, and a request's operation and flags (block_request.h's
// stable form, made by bpf/include/coretrace/block.bpf.h) as libbpf-tools prints them.
#pragma once
#include <coretrace/block_request.h>

#include <cstdint>
#include <map>
#include <string>

namespace coretrace::block {

// dev_t (the kernel's MKDEV form) -> name, for every disk and partition in /proc/partitions.
std::map<std::uint32_t, std::string> read_partitions();

// The dev_t of whole disk `name` (-d DISK), or an Error that says why there is none.
std::uint32_t disk_dev(const std::string& name);

// dev_t -> disk name, re-reading /proc/partitions for a disk that appeared since start-up
// ("Unknown" if still not there).
class DiskNames {
  public:
    DiskNames();
    std::string operator()(std::uint32_t dev);

  private:
    std::map<std::uint32_t, std::string> names_;
};

// The operation's name ("Read", "Write", "Flush", ...).
const char* op_name(std::uint32_t flags);

// libbpf-tools biolatency -F's text: the flags, each followed by '-', then the operation
// ("Sync-Write").
std::string flags_text(std::uint32_t flags);

// The RWBS letters biosnoop prints: F (preflush), the operation (R, W, F, D, DE, N), then F
// (FUA), A (readahead), S (sync), M (metadata).
std::string rwbs(std::uint32_t flags);

// "read", "write" or the operation's name in lower case, for JSON.
std::string direction(std::uint32_t flags);

} // namespace coretrace::block
