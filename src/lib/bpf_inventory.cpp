// The BPF object inventory: ids from the kernel's object idr (BPF_*_GET_NEXT_ID), descriptions
// from BPF_OBJ_GET_INFO_BY_FD, holders from /proc/*/fd, pins from every bpffs mount.
#include "coretrace/bpf_inventory.hpp"

#include "coretrace/clock.hpp"
#include "coretrace/fd.hpp"
#include "coretrace/system.hpp"

#include <algorithm>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <map>
#include <net/if.h>
#include <span>
#include <sys/stat.h>
#include <unistd.h>

namespace coretrace::inventory {
namespace {

namespace fs = std::filesystem;

// The link information the running kernel may return beyond what the build's <linux/bpf.h>
// (Linux 6.1 on Debian 12) declares: perf_event links (6.6), tcx and netkit (6.6, 6.7). The
// layout is the kernel's UAPI: the union starts at offset 16.
struct LinkInfo {
    __u32 type;
    __u32 id;
    __u32 prog_id;
    __u32 unused;
    union {
        struct {
            __u64 tp_name;
            __u32 tp_name_len;
        } raw_tracepoint;
        struct {
            __u32 attach_type;
            __u32 target_obj_id;
            __u32 target_btf_id;
        } tracing;
        struct {
            __u64 cgroup_id;
            __u32 attach_type;
        } cgroup;
        struct {
            __u64 target_name;
            __u32 target_name_len;
        } iter;
        struct {
            __u32 netns_ino;
            __u32 attach_type;
        } netns;
        struct {
            __u32 ifindex;
        } xdp;
        struct {
            __u32 ifindex;
            __u32 attach_type;
        } tcx; // and netkit
        struct {
            __u32 type; // enum bpf_perf_event_type
            __u32 unused;
            __u64 name; // uprobe file, kprobe function or tracepoint name
            __u32 name_len;
            __u32 offset;
            __u64 addr;
        } perf_event;
        unsigned char space[96];
    };
};

// Link types newer than libbpf 1.1 knows by name.
constexpr __u32 link_perf_event = 7, link_tcx = 11, link_netkit = 13;

std::string type_name(const char* known, const char* what, __u32 code) {
    return known ? std::string(known) : fmt::format("{} {}", what, code);
}

// libbpf's name (`known`), else the name of a code from `first_newer` on (newer than libbpf 1.1),
// else "<what> <code>".
std::string name_or_newer(const char* known, __u32 code, __u32 first_newer,
                          std::span<const char* const> newer, const char* what) {
    if (known)
        return known;
    if (code >= first_newer && code - first_newer < newer.size())
        return newer[code - first_newer];
    return fmt::format("{} {}", what, code);
}

std::string link_type_name(__u32 code) {
    static constexpr const char* newer[] = {"netfilter", "tcx", "uprobe_multi", "netkit",
                                            "sockmap"};
    return name_or_newer(libbpf_bpf_link_type_str(static_cast<bpf_link_type>(code)), code, 10,
                         newer, "link type");
}

// A program's helper calls (BPF_JMP|BPF_CALL with src_reg 0) in its translated instructions. The
// verifier has replaced each helper id by the helper's address minus __bpf_call_base's; tail calls
// are shown as calls with imm BPF_FUNC_tail_call. Distinct, in order of first call.
std::vector<std::int32_t> helper_call_offsets(int fd, __u32 xlated_bytes) {
    std::vector<bpf_insn> insns(xlated_bytes / sizeof(bpf_insn));
    if (insns.empty())
        return {};
    bpf_prog_info info{};
    info.xlated_prog_len = static_cast<__u32>(insns.size() * sizeof(bpf_insn));
    info.xlated_prog_insns = reinterpret_cast<std::uintptr_t>(insns.data());
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) || !info.xlated_prog_insns)
        return {};
    insns.resize(std::min<std::size_t>(insns.size(), info.xlated_prog_len / sizeof(bpf_insn)));
    std::vector<std::int32_t> offsets;
    for (const auto& insn : insns)
        if (insn.code == (BPF_JMP | BPF_CALL) && insn.src_reg == 0 &&
            std::find(offsets.begin(), offsets.end(), insn.imm) == offsets.end())
            offsets.push_back(insn.imm);
    return offsets;
}

// Names the helper calls of every program from /proc/kallsyms: the symbol at __bpf_call_base plus
// the call's offset. False when kallsyms hides addresses or the kernel hid the offsets.
bool name_helper_calls(std::vector<Program>& programs,
                       const std::map<std::uint32_t, std::vector<std::int32_t>>& offsets) {
    std::ifstream file("/proc/kallsyms");
    const std::string text((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());
    const std::string base_symbol = " __bpf_call_base\n";
    const auto at = text.find(base_symbol);
    if (at == std::string::npos)
        return false;
    const std::uint64_t base = std::strtoull(text.c_str() + text.rfind('\n', at) + 1, nullptr, 16);
    if (base == 0)
        return false; // addresses hidden (kernel.kptr_restrict, or no CAP_SYSLOG)

    std::map<std::uint64_t, std::string> names; // address -> symbol, for the addresses called
    bool any_call = false, any_offset = false;
    for (const auto& [id, list] : offsets)
        for (auto offset : list) {
            any_call = true;
            any_offset = any_offset || offset != 0;
            names.emplace(base + static_cast<std::uint64_t>(static_cast<std::int64_t>(offset)), "");
        }
    if (any_call && !any_offset)
        return false; // every call target zeroed: the kernel would not show raw addresses
    for (std::size_t line = 0; line < text.size();) {
        std::size_t end = text.find('\n', line);
        if (end == std::string::npos)
            end = text.size();
        char* after = nullptr;
        const std::uint64_t address = std::strtoull(text.c_str() + line, &after, 16);
        if (auto it = names.find(address); it != names.end() && it->second.empty()) {
            // "ADDRESS TYPE NAME[\t[MODULE]]": the name, without a ".isra.0"-like suffix.
            const std::size_t name_at = text.find(' ', after - text.c_str() + 1) + 1;
            std::string name = text.substr(name_at, end - name_at);
            name = name.substr(0, name.find_first_of("\t"));
            if (auto dot = name.find('.'); dot != std::string::npos && dot > 0)
                name.resize(dot);
            it->second = name;
        }
        line = end + 1;
    }
    for (auto& program : programs) {
        auto it = offsets.find(program.id);
        if (it == offsets.end())
            continue;
        for (auto offset : it->second) {
            std::string name =
                offset == BPF_FUNC_tail_call
                    ? std::string("bpf_tail_call")
                    : names[base + static_cast<std::uint64_t>(static_cast<std::int64_t>(offset))];
            if (!name.empty() && std::find(program.helpers.begin(), program.helpers.end(), name) ==
                                     program.helpers.end())
                program.helpers.push_back(std::move(name));
        }
    }
    return true;
}

// "memlock:" of one of our own fds.
std::uint64_t memlock_of(int fd) {
    std::ifstream info(fmt::format("/proc/self/fdinfo/{}", fd));
    std::string key;
    std::uint64_t value = 0;
    while (info >> key)
        if (key == "memlock:" && info >> value)
            return value;
    return 0;
}

std::string fd_target(const std::string& link) {
    char target[256];
    ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
    return n > 0 ? std::string(target, static_cast<std::size_t>(n)) : std::string();
}

// The kind of BPF object an fd refers to, from its /proc link text.
std::optional<Kind> kind_of_target(const std::string& target) {
    if (target == "anon_inode:bpf-prog")
        return Kind::prog;
    if (target == "anon_inode:bpf-map")
        return Kind::map;
    if (target == "anon_inode:bpf_link")
        return Kind::link;
    return std::nullopt;
}

// The "<kind>_id:" line of an fdinfo file.
std::uint32_t id_in_fdinfo(const std::string& path, Kind kind) {
    const std::string wanted = std::string(kind_name(kind)) + "_id:";
    std::ifstream info(path);
    std::string key;
    std::uint32_t id = 0;
    while (info >> key)
        if (key == wanted && info >> id)
            return id;
    return 0;
}

using Key = std::pair<Kind, std::uint32_t>;

// Every process's BPF file descriptors.
std::map<Key, std::vector<Holder>> find_holders() {
    std::map<Key, std::vector<Holder>> holders;
    DIR* proc = ::opendir("/proc");
    if (!proc)
        return holders;
    while (dirent* entry = ::readdir(proc)) {
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
            continue;
        const std::string base = std::string("/proc/") + entry->d_name;
        DIR* fds = ::opendir((base + "/fd").c_str());
        if (!fds)
            continue; // gone, or a kernel thread
        std::string comm, exe;
        bool described = false;
        while (dirent* fd_entry = ::readdir(fds)) {
            if (fd_entry->d_name[0] < '0' || fd_entry->d_name[0] > '9')
                continue;
            auto kind = kind_of_target(fd_target(base + "/fd/" + fd_entry->d_name));
            if (!kind)
                continue;
            std::uint32_t id = id_in_fdinfo(base + "/fdinfo/" + fd_entry->d_name, *kind);
            if (!id)
                continue;
            if (!described) {
                comm = sys::read_first_line(base + "/comm");
                exe = fd_target(base + "/exe");
                described = true;
            }
            constexpr std::string_view deleted = " (deleted)";
            holders[{*kind, id}].push_back(Holder{
                static_cast<pid_t>(std::atoi(entry->d_name)), comm, std::atoi(fd_entry->d_name),
                exe.size() > deleted.size() && exe.ends_with(deleted)});
        }
        ::closedir(fds);
    }
    ::closedir(proc);
    return holders;
}

// Every path pinning an object under every bpffs mount.
std::map<Key, std::vector<std::string>> find_pins() {
    std::map<Key, std::vector<std::string>> pins;
    for (const auto& mount : sys::mount_points("bpf")) {
        std::error_code ec;
        for (fs::recursive_directory_iterator it(mount, ec), end; !ec && it != end;
             it.increment(ec)) {
            if (!it->is_regular_file(ec))
                continue;
            UniqueFd fd(bpf_obj_get(it->path().c_str()));
            if (!fd)
                continue;
            auto kind = kind_of_target(fd_target(fmt::format("/proc/self/fd/{}", fd.get())));
            if (!kind)
                continue;
            if (auto id = id_in_fdinfo(fmt::format("/proc/self/fdinfo/{}", fd.get()), *kind))
                pins[{*kind, id}].push_back(it->path().string());
        }
    }
    return pins;
}

// The cgroup v2 directory whose inode number is `id` (a cgroup id), or "".
std::string cgroup_path_of(std::uint64_t id) {
    for (const auto& root : sys::mount_points("cgroup2")) {
        std::error_code ec;
        struct stat st {};
        if (::stat(root.c_str(), &st) == 0 && st.st_ino == id)
            return root;
        for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
            if (it->is_directory(ec) && ::stat(it->path().c_str(), &st) == 0 && st.st_ino == id)
                return it->path().string();
    }
    return {};
}

std::string interface_name(std::uint32_t ifindex) {
    char name[IF_NAMESIZE] = {};
    return if_indextoname(ifindex, name) ? std::string(name) : std::string();
}

// Boot-time nanoseconds (prog load_time) to Unix-epoch nanoseconds.
std::int64_t boot_to_unix_ns(std::uint64_t boot_ns) {
    timespec real{}, boot{};
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_BOOTTIME, &boot);
    return static_cast<std::int64_t>(boot_ns) + (real.tv_sec - boot.tv_sec) * 1000000000LL +
           (real.tv_nsec - boot.tv_nsec);
}

std::optional<Program> describe_program(int fd, std::uint32_t id) {
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len))
        return std::nullopt;
    Program p;
    p.id = id;
    p.type_code = info.type;
    p.type = type_name(libbpf_bpf_prog_type_str(static_cast<bpf_prog_type>(info.type)), "prog type",
                       info.type);
    p.name = std::string(info.name, strnlen(info.name, sizeof(info.name)));
    for (unsigned char byte : info.tag)
        p.tag += fmt::format("{:02x}", byte);
    p.gpl = info.gpl_compatible;
    p.loaded_at_unix_ns = boot_to_unix_ns(info.load_time);
    p.uid = info.created_by_uid;
    p.xlated_bytes = info.xlated_prog_len;
    p.jited_bytes = info.jited_prog_len;
    p.btf_id = info.btf_id;
    p.run_time_ns = info.run_time_ns;
    p.run_count = info.run_cnt;
    p.recursion_misses = info.recursion_misses;
    if (info.nr_map_ids) {
        // A second call for the map ids, into a buffer of the size the first one told.
        std::vector<__u32> ids(info.nr_map_ids);
        bpf_prog_info again{};
        again.nr_map_ids = info.nr_map_ids;
        again.map_ids = reinterpret_cast<std::uintptr_t>(ids.data());
        len = sizeof(again);
        if (bpf_obj_get_info_by_fd(fd, &again, &len) == 0) {
            ids.resize(std::min(again.nr_map_ids, info.nr_map_ids));
            p.map_ids.assign(ids.begin(), ids.end());
        }
    }
    p.memlock = memlock_of(fd);
    return p;
}

std::optional<Map> describe_map(int fd, std::uint32_t id) {
    bpf_map_info info{};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len))
        return std::nullopt;
    Map m;
    m.id = id;
    m.type_code = info.type;
    m.type = type_name(libbpf_bpf_map_type_str(static_cast<bpf_map_type>(info.type)), "map type",
                       info.type);
    m.name = std::string(info.name, strnlen(info.name, sizeof(info.name)));
    m.key_size = info.key_size;
    m.value_size = info.value_size;
    m.max_entries = info.max_entries;
    m.flags = info.map_flags;
    m.btf_id = info.btf_id;
    m.memlock = memlock_of(fd);
    // fdinfo's "frozen:" line says whether user space can still write the map.
    std::ifstream details(fmt::format("/proc/self/fdinfo/{}", fd));
    std::string key;
    int frozen = 0;
    while (details >> key)
        if (key == "frozen:" && details >> frozen)
            break;
    m.frozen = frozen != 0;
    return m;
}

std::optional<Link> describe_link(int fd, std::uint32_t id) {
    LinkInfo info{};
    char name[512] = {};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len))
        return std::nullopt;
    // Ask again with a buffer where the link has a name to tell.
    bool named = true;
    switch (info.type) {
    case BPF_LINK_TYPE_RAW_TRACEPOINT:
        info.raw_tracepoint.tp_name = reinterpret_cast<std::uintptr_t>(name);
        info.raw_tracepoint.tp_name_len = sizeof(name);
        break;
    case BPF_LINK_TYPE_ITER:
        info.iter.target_name = reinterpret_cast<std::uintptr_t>(name);
        info.iter.target_name_len = sizeof(name);
        break;
    case link_perf_event:
        info.perf_event.name = reinterpret_cast<std::uintptr_t>(name);
        info.perf_event.name_len = sizeof(name);
        break;
    default:
        named = false;
    }
    if (named) {
        len = sizeof(info);
        if (bpf_obj_get_info_by_fd(fd, &info, &len))
            name[0] = '\0';
        name[sizeof(name) - 1] = '\0';
    }

    Link l;
    l.id = id;
    l.type_code = info.type;
    l.type = link_type_name(info.type);
    l.prog_id = info.prog_id;
    switch (info.type) {
    case BPF_LINK_TYPE_RAW_TRACEPOINT:
        l.target = fmt::format("raw_tracepoint {}", name);
        break;
    case BPF_LINK_TYPE_TRACING:
        l.attach_type = attach_type_name(info.tracing.attach_type);
        l.target = fmt::format("btf_obj {} btf_type {}", info.tracing.target_obj_id,
                               info.tracing.target_btf_id);
        break;
    case BPF_LINK_TYPE_CGROUP:
        l.attach_type = attach_type_name(info.cgroup.attach_type);
        l.cgroup_id = info.cgroup.cgroup_id;
        l.cgroup_path = cgroup_path_of(info.cgroup.cgroup_id);
        l.target = fmt::format("cgroup {}", l.cgroup_path.empty()
                                                ? fmt::format("id {}", info.cgroup.cgroup_id)
                                                : l.cgroup_path);
        break;
    case BPF_LINK_TYPE_ITER:
        l.target = fmt::format("iter {}", name);
        break;
    case BPF_LINK_TYPE_NETNS:
        l.attach_type = attach_type_name(info.netns.attach_type);
        l.target = fmt::format("netns {}", info.netns.netns_ino);
        break;
    case BPF_LINK_TYPE_XDP:
    case link_tcx:
    case link_netkit: {
        const bool xdp = info.type == BPF_LINK_TYPE_XDP;
        l.ifindex = xdp ? info.xdp.ifindex : info.tcx.ifindex;
        if (!xdp)
            l.attach_type = attach_type_name(info.tcx.attach_type);
        const std::string ifname = interface_name(*l.ifindex);
        l.target = fmt::format("ifindex {}{}", *l.ifindex,
                               ifname.empty() ? "" : fmt::format(" ({})", ifname));
        break;
    }
    case link_perf_event: {
        static constexpr const char* kinds[] = {"perf_event", "uprobe",     "uretprobe", "kprobe",
                                                "kretprobe",  "tracepoint", "event"};
        const char* kind =
            info.perf_event.type < std::size(kinds) ? kinds[info.perf_event.type] : "perf_event";
        l.target = name[0] ? fmt::format("{} {}", kind, name) : kind;
        break;
    }
    default:
        break;
    }
    return l;
}

// Walks one kind's id space: `next` gives the following id, `open` an fd for one, `describe`
// turns the fd into a record (nullopt when the object vanished in between).
template <typename Record, typename Describe>
std::vector<Record> walk(int (*next)(__u32, __u32*), int (*open)(__u32), Describe describe) {
    std::vector<Record> found;
    for (__u32 id = 0; next(id, &id) == 0;) {
        UniqueFd fd(open(id));
        if (!fd)
            continue; // freed since
        if (auto record = describe(fd.get(), id))
            found.push_back(std::move(*record));
    }
    return found;
}

template <typename Record>
void attach_holders_and_pins(std::vector<Record>& records, Kind kind,
                             std::map<Key, std::vector<Holder>>& holders,
                             std::map<Key, std::vector<std::string>>& pins) {
    for (auto& record : records) {
        if (auto it = holders.find({kind, record.id}); it != holders.end())
            record.holders = std::move(it->second);
        if (auto it = pins.find({kind, record.id}); it != pins.end())
            record.pins = std::move(it->second);
    }
}

} // namespace

std::string attach_type_name(std::uint32_t code) {
    // After BPF_LSM_CGROUP (43), the last one libbpf 1.1 names, in the kernel's UAPI order.
    static constexpr const char* newer[] = {"struct_ops",
                                            "netfilter",
                                            "tcx_ingress",
                                            "tcx_egress",
                                            "trace_uprobe_multi",
                                            "cgroup_unix_connect",
                                            "cgroup_unix_sendmsg",
                                            "cgroup_unix_recvmsg",
                                            "cgroup_unix_getpeername",
                                            "cgroup_unix_getsockname",
                                            "netkit_primary",
                                            "netkit_peer",
                                            "trace_kprobe_session",
                                            "trace_uprobe_session"};
    return name_or_newer(libbpf_bpf_attach_type_str(static_cast<bpf_attach_type>(code)), code, 44,
                         newer, "attach type");
}

const char* kind_name(Kind kind) {
    switch (kind) {
    case Kind::prog:
        return "prog";
    case Kind::map:
        return "map";
    case Kind::link:
        return "link";
    }
    return "?";
}

Snapshot take_snapshot(const SnapshotOptions& options) {
    Snapshot snapshot;
    std::map<std::uint32_t, std::vector<std::int32_t>> call_offsets; // by program id
    snapshot.programs =
        walk<Program>(bpf_prog_get_next_id, bpf_prog_get_fd_by_id, [&](int fd, std::uint32_t id) {
            auto program = describe_program(fd, id);
            if (program && options.helper_calls)
                call_offsets[id] = helper_call_offsets(fd, program->xlated_bytes);
            return program;
        });
    if (options.helper_calls)
        snapshot.helpers_resolved = name_helper_calls(snapshot.programs, call_offsets);
    snapshot.maps = walk<Map>(bpf_map_get_next_id, bpf_map_get_fd_by_id, describe_map);
    snapshot.links = walk<Link>(bpf_link_get_next_id, bpf_link_get_fd_by_id, describe_link);
    auto holders = find_holders();
    auto pins = find_pins();
    // Our own descriptors, opened for the walk, are closed by now and not among the holders.
    attach_holders_and_pins(snapshot.programs, Kind::prog, holders, pins);
    attach_holders_and_pins(snapshot.maps, Kind::map, holders, pins);
    attach_holders_and_pins(snapshot.links, Kind::link, holders, pins);
    return snapshot;
}

} // namespace coretrace::inventory
