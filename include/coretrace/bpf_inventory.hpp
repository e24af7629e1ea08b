// What BPF objects exist on the machine: every loaded program, map and link with the kernel's
// description of it (as `bpftool prog/map/link show`), the processes holding each through a file
// descriptor (from /proc/*/fd and fdinfo), and the bpffs paths pinning it. Read-only; needs root.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace coretrace::inventory {

enum class Kind { prog, map, link };
const char* kind_name(Kind kind); // "prog", "map", "link"

// A process holding an object through one of its file descriptors.
struct Holder {
    pid_t pid = 0;
    std::string comm;
    int fd = -1;
    bool exe_deleted = false; // the process's executable has been deleted or replaced
};

// What every object has beside its kind-specific fields.
struct Common {
    std::uint32_t id = 0;
    std::string type; // libbpf's name for the program, map or link type
    std::vector<Holder> holders;
    std::vector<std::string> pins; // bpffs paths
    std::uint64_t memlock = 0;     // bytes, from fdinfo (0 for links)
};

struct Program : Common {
    std::uint32_t type_code = 0;
    std::string name;
    std::string tag; // 16 hex digits
    bool gpl = false;
    std::int64_t loaded_at_unix_ns = 0;
    std::uint32_t uid = 0;
    std::uint32_t xlated_bytes = 0, jited_bytes = 0;
    std::vector<std::uint32_t> map_ids;
    std::uint32_t btf_id = 0;
    std::uint64_t run_time_ns = 0, run_count = 0; // with kernel.bpf_stats_enabled
    std::uint64_t recursion_misses = 0;
    // The kernel functions its helper calls go to (e.g. "bpf_map_lookup_elem",
    // "bpf_send_signal"), distinct, in order of first call; filled only with
    // SnapshotOptions::helper_calls. A call whose target /proc/kallsyms does not name is left out.
    std::vector<std::string> helpers;
};

struct Map : Common {
    std::uint32_t type_code = 0;
    std::string name;
    std::uint32_t key_size = 0, value_size = 0, max_entries = 0, flags = 0;
    std::uint32_t btf_id = 0;
    bool frozen = false;
};

struct Link : Common {
    std::uint32_t type_code = 0;
    std::uint32_t prog_id = 0;
    std::string attach_type; // e.g. "trace_fentry", "cgroup_inet_ingress"; empty when not told
    // Where it is attached, as far as the kernel says: a tracepoint name, "ifindex 3 (veth0)",
    // "cgroup /sys/fs/cgroup/x", "netns 4026531840"...; empty when the kernel does not say.
    std::string target;
    std::optional<std::uint32_t> ifindex;
    std::optional<std::uint64_t> cgroup_id;
    std::string cgroup_path; // resolved from cgroup_id under the cgroup v2 mount, if found
};

struct Snapshot {
    std::vector<Program> programs;
    std::vector<Map> maps;
    std::vector<Link> links;
    // With SnapshotOptions::helper_calls: false when /proc/kallsyms hides addresses (or the
    // kernel hid the call targets), so that no program's helpers could be named.
    bool helpers_resolved = false;
};

struct SnapshotOptions {
    // Read each program's translated instructions and name its helper calls (Program::helpers).
    // Costs one more query per program and a read of /proc/kallsyms.
    bool helper_calls = false;
};

// Every program, map and link now, in id order, with holders and pins. Objects that vanish while
// being read are left out.
Snapshot take_snapshot(const SnapshotOptions& options = {});

// libbpf's name for an attach type, with the names of those newer than libbpf 1.1
// ("tcx_ingress", "cgroup_unix_connect", ...), or "attach type N".
std::string attach_type_name(std::uint32_t code);

} // namespace coretrace::inventory
