// The security view of the loaded BPF objects (`coretrace audit`): which programs outlive the
// process that loaded them, what nobody holds any more, what is pinned, what is attached to a
// network device or a cgroup and where, which programs call helpers that write user memory or
// send signals, and which objects are held by a process whose executable is gone.
//
// Two halves: scan() asks the kernel where programs are attached (every network namespace's
// devices, every cgroup v2 directory) and what prog_array maps hold; assess() is pure logic over an
// inventory snapshot and that scan, so that it can be tested without a kernel.
#pragma once

#include "coretrace/bpf_inventory.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace coretrace::audit {

enum class Lifetime { short_lived, long_lived };
const char* lifetime_name(Lifetime lifetime); // "short-lived", "long-lived"

// Program types whose usual attachment outlives the loader (XDP and tc by netlink, cgroup
// programs by BPF_PROG_ATTACH, lwt routes, sockmap and lirc programs, struct_ops).
bool long_lived_type(std::uint32_t prog_type);

enum class Place { netdev, cgroup, other };

// One place a program runs from.
struct Attachment {
    std::uint32_t prog_id = 0;
    Place place = Place::other;
    // "xdp (driver)", "xdp (generic)", "xdp (offload)", "tc ingress", "tc egress", "tcx_ingress",
    // "netkit_primary", a cgroup attach type ("cgroup_inet_ingress"), or a link's type and attach
    // type for the others ("tracing trace_fentry").
    std::string hook;
    std::optional<std::uint32_t> link_id; // through this link; none: netlink or BPF_PROG_ATTACH
    // Network devices: the interface as seen inside its network namespace, and that namespace:
    // "" for audit's own, the name under /run/netns, or "net:[INODE]" with a process in it.
    std::optional<std::uint32_t> ifindex;
    std::string ifname;
    std::string netns;
    std::optional<std::uint64_t> cgroup_id; // cgroups: the directory's inode number
    std::string cgroup_path;
    std::string target; // others: the link's target as `coretrace bpf links` shows it
    // One line for people: "xdp (driver) on veth0 (ifindex 3) in netns blue, link 7".
    std::string describe() const;
};

// A program id found in a slot of a prog_array map (the program is kept by the map).
struct ProgArraySlot {
    std::uint32_t map_id = 0;
    std::uint32_t index = 0;
    std::uint32_t prog_id = 0;
};

struct Scan {
    std::vector<Attachment> attachments; // netdev and cgroup ones; link_id not filled
    std::vector<ProgArraySlot> prog_array_slots;
    std::vector<std::string> notes; // what could not be looked at, one sentence each
};

// Asks the kernel, in every network namespace it can find (its own, those under /run/netns and
// those of running processes) for each device's XDP, tc (clsact) and tcx/netkit programs, and in
// every cgroup v2 directory for the programs attached there; reads every prog_array map. Enters
// the namespaces with setns(2) on the calling thread and returns it to its own; needs root.
Scan scan(const inventory::Snapshot& snapshot);

enum class Finding {
    orphaned,      // no process holds it, or a link to it, or a prog_array keeping it
    exe_deleted,   // a holder's executable was deleted or replaced
    risky_helpers, // calls bpf_probe_write_user, bpf_send_signal(_thread), bpf_override_return
    netdev,        // attached to a network device
    cgroup,        // attached to a cgroup
    pinned,        // pinned in bpffs (itself or a link to it)
    unexplained,   // long-lived type, held by nobody, attached nowhere audit could see
};
inline constexpr Finding all_findings[] = {
    Finding::orphaned, Finding::exe_deleted, Finding::risky_helpers, Finding::netdev,
    Finding::cgroup,   Finding::pinned,      Finding::unexplained};
const char* finding_name(Finding finding); // "orphaned", "exe_deleted", ... (JSON)
const char* finding_why(Finding finding);  // why it matters, one sentence (text headings)

// The helpers the audit flags, and what each can do: "writes user memory", "sends signals",
// "changes a kernel function's return value"; nullptr for any other.
const char* risky_helper(const std::string& helper);

// A process holding the object, directly (via "") or through another object ("link 7",
// "prog_array map 12", "prog 40 using prog_array map 12").
struct Holding {
    inventory::Holder holder;
    std::string via;
};
struct Pin {
    std::string path;
    std::string via; // "" or "link 7"
};

struct ObjectReport {
    inventory::Kind kind = inventory::Kind::prog; // prog or map
    std::uint32_t id = 0;
    std::string type, name;
    Lifetime lifetime = Lifetime::short_lived;
    std::string lifetime_reason;
    std::vector<Finding> findings; // in all_findings order
    std::vector<Attachment> attachments;
    std::vector<Holding> holders;
    std::vector<Pin> pins;
    std::vector<std::string> risky_helpers;
    std::vector<std::uint32_t> used_by; // maps: the programs using it
    std::vector<std::uint32_t> kept_by; // programs: the prog_array maps holding it
    std::string note;                   // unexplained: what may keep it
    bool has(Finding finding) const;
};

struct Report {
    std::vector<ObjectReport> objects; // every program, then every map, in id order
    std::size_t programs = 0, maps = 0, links = 0;
    std::size_t long_lived = 0;   // programs
    bool helpers_checked = false; // false: helper calls could not be named (kallsyms hidden)
    std::vector<std::string> notes;
};

// Classifies every program and map of `snapshot`, with the attachments and prog_array slots of
// `scan`; links are folded into their programs (their holders, pins and targets).
Report assess(const inventory::Snapshot& snapshot, const Scan& scan);

} // namespace coretrace::audit
