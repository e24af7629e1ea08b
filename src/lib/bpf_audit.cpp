// The audit: where programs are attached (netlink and bpf(2) queries per network namespace and per
// cgroup), what prog_array maps keep, and the classification of every program and map.
#include "coretrace/bpf_audit.hpp"

#include "coretrace/error.hpp"
#include "coretrace/fd.hpp"
#include "coretrace/system.hpp"

#include <algorithm>
#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <functional>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <map>
#include <sched.h>
#include <set>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace coretrace::audit {
namespace {

namespace fs = std::filesystem;
using inventory::Kind;

// Attach types newer than the build's <linux/bpf.h> (Linux 6.1): tcx (6.6), netkit (6.7) and the
// AF_UNIX cgroup hooks (6.7), in the kernel's UAPI numbering.
constexpr std::uint32_t attach_tcx_ingress = 46, attach_tcx_egress = 47, attach_netkit_primary = 54,
                        attach_netkit_peer = 55;

// Every cgroup attach type, BPF_LSM_CGROUP and the AF_UNIX ones included.
constexpr std::uint32_t cgroup_attach_types[] = {BPF_CGROUP_INET_INGRESS,
                                                 BPF_CGROUP_INET_EGRESS,
                                                 BPF_CGROUP_INET_SOCK_CREATE,
                                                 BPF_CGROUP_INET_SOCK_RELEASE,
                                                 BPF_CGROUP_INET4_BIND,
                                                 BPF_CGROUP_INET6_BIND,
                                                 BPF_CGROUP_INET4_POST_BIND,
                                                 BPF_CGROUP_INET6_POST_BIND,
                                                 BPF_CGROUP_INET4_CONNECT,
                                                 BPF_CGROUP_INET6_CONNECT,
                                                 BPF_CGROUP_INET4_GETPEERNAME,
                                                 BPF_CGROUP_INET6_GETPEERNAME,
                                                 BPF_CGROUP_INET4_GETSOCKNAME,
                                                 BPF_CGROUP_INET6_GETSOCKNAME,
                                                 BPF_CGROUP_UDP4_SENDMSG,
                                                 BPF_CGROUP_UDP6_SENDMSG,
                                                 BPF_CGROUP_UDP4_RECVMSG,
                                                 BPF_CGROUP_UDP6_RECVMSG,
                                                 BPF_CGROUP_SOCK_OPS,
                                                 BPF_CGROUP_DEVICE,
                                                 BPF_CGROUP_SYSCTL,
                                                 BPF_CGROUP_GETSOCKOPT,
                                                 BPF_CGROUP_SETSOCKOPT,
                                                 BPF_LSM_CGROUP,
                                                 49 /* unix_connect */,
                                                 50 /* unix_sendmsg */,
                                                 51 /* unix_recvmsg */,
                                                 52 /* unix_getpeername */,
                                                 53 /* unix_getsockname */};

// The program ids attached to `target` (a cgroup fd or an ifindex) for one attach type; empty
// when the kernel has none or does not know the type.
std::vector<std::uint32_t> query_programs(int target, std::uint32_t attach_type) {
    std::vector<__u32> ids(256);
    __u32 count = static_cast<__u32>(ids.size());
    if (bpf_prog_query(target, static_cast<bpf_attach_type>(attach_type), 0, nullptr, ids.data(),
                       &count) != 0)
        return {};
    ids.resize(std::min<std::size_t>(count, ids.size()));
    return {ids.begin(), ids.end()};
}

// --- netlink ------------------------------------------------------------------------------

// Calls `each(type, payload, size)` for every attribute in [data, data + size).
void each_attribute(const char* data, std::size_t size,
                    const std::function<void(unsigned, const char*, std::size_t)>& each) {
    std::size_t offset = 0;
    while (offset + sizeof(rtattr) <= size) {
        rtattr header;
        std::memcpy(&header, data + offset, sizeof(header));
        if (header.rta_len < sizeof(rtattr) || offset + header.rta_len > size)
            break;
        each(header.rta_type & NLA_TYPE_MASK, data + offset + RTA_LENGTH(0),
             header.rta_len - RTA_LENGTH(0));
        offset += RTA_ALIGN(header.rta_len);
    }
}

std::uint32_t u32_of(const char* payload, std::size_t size) {
    std::uint32_t value = 0;
    if (size >= sizeof(value))
        std::memcpy(&value, payload, sizeof(value));
    return value;
}

std::string string_of(const char* payload, std::size_t size) {
    return std::string(payload, strnlen(payload, size));
}

// A NETLINK_ROUTE socket in the calling thread's network namespace, for dumps.
class RouteSocket {
  public:
    RouteSocket() : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {
        if (!fd_)
            throw_system_error("netlink socket", errno);
    }

    // Sends a dump request of `type` with `body` and calls `each(message, payload, size)` for every
    // reply; false when the kernel answered with an error (as for a device without that qdisc).
    template <typename Body>
    bool dump(std::uint16_t type, const Body& body,
              const std::function<void(const char*, std::size_t)>& each) {
        struct {
            nlmsghdr header;
            Body body;
        } request{};
        request.header.nlmsg_len = NLMSG_LENGTH(sizeof(Body));
        request.header.nlmsg_type = type;
        request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        request.header.nlmsg_seq = ++sequence_;
        request.body = body;
        sockaddr_nl kernel{};
        kernel.nl_family = AF_NETLINK;
        if (::sendto(fd_.get(), &request, request.header.nlmsg_len, 0,
                     reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0)
            return false;
        std::vector<std::uint64_t> storage(64 * 1024 / sizeof(std::uint64_t));
        const char* buffer = reinterpret_cast<const char*>(storage.data());
        for (;;) {
            ssize_t got =
                ::recv(fd_.get(), storage.data(), storage.size() * sizeof(std::uint64_t), 0);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                return false;
            const auto size = static_cast<std::size_t>(got);
            for (std::size_t offset = 0; offset + sizeof(nlmsghdr) <= size;) {
                nlmsghdr header;
                std::memcpy(&header, buffer + offset, sizeof(header));
                if (header.nlmsg_len < sizeof(nlmsghdr) || offset + header.nlmsg_len > size)
                    break;
                if (header.nlmsg_seq == sequence_) {
                    if (header.nlmsg_type == NLMSG_DONE)
                        return true;
                    if (header.nlmsg_type == NLMSG_ERROR)
                        return false;
                    each(buffer + offset + NLMSG_HDRLEN, header.nlmsg_len - NLMSG_HDRLEN);
                }
                offset += NLMSG_ALIGN(header.nlmsg_len);
            }
        }
    }

  private:
    UniqueFd fd_;
    std::uint32_t sequence_ = 0;
};

struct Device {
    std::uint32_t ifindex = 0;
    std::string name;
    std::vector<std::pair<std::uint32_t, std::string>> xdp; // program id, hook
};

// Every device of the socket's namespace with its XDP programs (IFLA_XDP of RTM_GETLINK).
std::vector<Device> devices(RouteSocket& route) {
    std::vector<Device> found;
    ifinfomsg request{};
    request.ifi_family = AF_UNSPEC;
    route.dump(RTM_GETLINK, request, [&](const char* payload, std::size_t size) {
        if (size < NLMSG_ALIGN(sizeof(ifinfomsg)))
            return;
        ifinfomsg info;
        std::memcpy(&info, payload, sizeof(info));
        Device device;
        device.ifindex = static_cast<std::uint32_t>(info.ifi_index);
        each_attribute(
            payload + NLMSG_ALIGN(sizeof(ifinfomsg)), size - NLMSG_ALIGN(sizeof(ifinfomsg)),
            [&](unsigned type, const char* data, std::size_t length) {
                if (type == IFLA_IFNAME)
                    device.name = string_of(data, length);
                if (type != IFLA_XDP)
                    return;
                unsigned mode = XDP_ATTACHED_NONE;
                std::uint32_t single = 0, drv = 0, skb = 0, hw = 0;
                each_attribute(data, length, [&](unsigned t, const char* d, std::size_t n) {
                    if (t == IFLA_XDP_ATTACHED && n >= 1)
                        mode = static_cast<unsigned char>(d[0]);
                    else if (t == IFLA_XDP_PROG_ID)
                        single = u32_of(d, n);
                    else if (t == IFLA_XDP_DRV_PROG_ID)
                        drv = u32_of(d, n);
                    else if (t == IFLA_XDP_SKB_PROG_ID)
                        skb = u32_of(d, n);
                    else if (t == IFLA_XDP_HW_PROG_ID)
                        hw = u32_of(d, n);
                });
                // One mode: IFLA_XDP_PROG_ID; several (XDP_ATTACHED_MULTI): one id per mode.
                if (mode == XDP_ATTACHED_DRV)
                    drv = single;
                else if (mode == XDP_ATTACHED_SKB)
                    skb = single;
                else if (mode == XDP_ATTACHED_HW)
                    hw = single;
                for (auto [id, hook] :
                     {std::pair{drv, "xdp (driver)"}, std::pair{skb, "xdp (generic)"},
                      std::pair{hw, "xdp (offload)"}})
                    if (id)
                        device.xdp.emplace_back(id, hook);
            });
        found.push_back(std::move(device));
    });
    return found;
}

// The cls_bpf programs of one clsact direction of a device (`tc filter show dev X ingress`).
std::vector<std::uint32_t> tc_programs(RouteSocket& route, std::uint32_t ifindex,
                                       std::uint32_t direction) {
    std::vector<std::uint32_t> ids;
    tcmsg request{};
    request.tcm_family = AF_UNSPEC;
    request.tcm_ifindex = static_cast<int>(ifindex);
    request.tcm_parent = TC_H_MAKE(TC_H_CLSACT, direction);
    route.dump(RTM_GETTFILTER, request, [&](const char* payload, std::size_t size) {
        if (size < NLMSG_ALIGN(sizeof(tcmsg)))
            return;
        std::string kind;
        std::uint32_t id = 0;
        each_attribute(payload + NLMSG_ALIGN(sizeof(tcmsg)), size - NLMSG_ALIGN(sizeof(tcmsg)),
                       [&](unsigned type, const char* data, std::size_t length) {
                           if (type == TCA_KIND)
                               kind = string_of(data, length);
                           else if (type == TCA_OPTIONS)
                               each_attribute(data, length,
                                              [&](unsigned t, const char* d, std::size_t n) {
                                                  if (t == TCA_BPF_ID)
                                                      id = u32_of(d, n);
                                              });
                       });
        if (kind == "bpf" && id && std::find(ids.begin(), ids.end(), id) == ids.end())
            ids.push_back(id);
    });
    return ids;
}

// The XDP, tc, tcx and netkit programs of every device of the calling thread's namespace.
void scan_devices(const std::string& netns, Scan& out) {
    RouteSocket route;
    for (const auto& device : devices(route)) {
        Attachment base;
        base.place = Place::netdev;
        base.ifindex = device.ifindex;
        base.ifname = device.name;
        base.netns = netns;
        auto add = [&](std::uint32_t prog_id, std::string hook) {
            Attachment found = base;
            found.prog_id = prog_id;
            found.hook = std::move(hook);
            out.attachments.push_back(std::move(found));
        };
        for (const auto& [id, hook] : device.xdp)
            add(id, hook);
        for (auto [direction, hook] :
             {std::pair{TC_H_MIN_INGRESS, "tc ingress"}, std::pair{TC_H_MIN_EGRESS, "tc egress"}})
            for (auto id : tc_programs(route, device.ifindex, direction))
                add(id, hook);
        // BPF_PROG_QUERY takes the ifindex where it takes an fd for these types.
        for (auto type :
             {attach_tcx_ingress, attach_tcx_egress, attach_netkit_primary, attach_netkit_peer})
            for (auto id : query_programs(static_cast<int>(device.ifindex), type))
                add(id, inventory::attach_type_name(type));
    }
}

struct Netns {
    std::string path;
    std::string name; // "" for our own
};

// Our own network namespace first, then those named under /run/netns, then those of processes.
std::vector<Netns> network_namespaces() {
    std::vector<Netns> found;
    std::set<ino_t> seen;
    auto add = [&](const std::string& path, const std::function<std::string(ino_t)>& name) {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && seen.insert(st.st_ino).second)
            found.push_back({path, name(st.st_ino)});
    };
    add("/proc/self/ns/net", [](ino_t) { return std::string(); });
    for (const char* dir : {"/run/netns", "/var/run/netns"}) {
        std::error_code ec;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
            add(it->path().string(), [&](ino_t) { return it->path().filename().string(); });
    }
    if (DIR* proc = ::opendir("/proc")) {
        while (dirent* entry = ::readdir(proc)) {
            if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
                continue;
            const std::string base = std::string("/proc/") + entry->d_name;
            add(base + "/ns/net", [&](ino_t ino) {
                return fmt::format("net:[{}] (pid {} {})", ino, entry->d_name,
                                   sys::read_first_line(base + "/comm"));
            });
        }
        ::closedir(proc);
    }
    return found;
}

void scan_network_namespaces(Scan& out) {
    UniqueFd own(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!own)
        throw_system_error("open /proc/self/ns/net", errno);
    for (const auto& netns : network_namespaces()) {
        if (netns.name.empty()) {
            scan_devices(netns.name, out);
            continue;
        }
        UniqueFd target(::open(netns.path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!target || ::setns(target.get(), CLONE_NEWNET) != 0) {
            if (errno != ENOENT) // a process that exited meanwhile is no news
                out.notes.push_back(fmt::format("could not enter network namespace {}: {}",
                                                netns.name, std::strerror(errno)));
            continue;
        }
        try {
            scan_devices(netns.name, out);
        } catch (const Error& e) {
            out.notes.push_back(fmt::format("network namespace {}: {}", netns.name, e.what()));
        }
        if (::setns(own.get(), CLONE_NEWNET) != 0)
            throw_system_error("returning to audit's own network namespace", errno);
    }
}

// Every cgroup v2 directory's directly attached programs, per attach type.
void scan_cgroups(Scan& out) {
    auto scan_one = [&](const fs::path& dir) {
        UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        struct stat st {};
        if (!fd || ::fstat(fd.get(), &st) != 0)
            return;
        for (auto type : cgroup_attach_types)
            for (auto id : query_programs(fd.get(), type)) {
                Attachment found;
                found.prog_id = id;
                found.place = Place::cgroup;
                found.hook = inventory::attach_type_name(type);
                found.cgroup_id = st.st_ino;
                found.cgroup_path = dir.string();
                out.attachments.push_back(std::move(found));
            }
    };
    for (const auto& root : sys::mount_points("cgroup2")) {
        scan_one(root);
        std::error_code ec;
        for (fs::recursive_directory_iterator
                 it(root, fs::directory_options::skip_permission_denied, ec),
             end;
             !ec && it != end; it.increment(ec))
            if (it->is_directory(ec) && !it->is_symlink(ec))
                scan_one(it->path());
    }
}

// Which program ids sit in which prog_array slots (a lookup from user space returns the id).
void scan_prog_arrays(const inventory::Snapshot& snapshot, Scan& out) {
    constexpr std::uint32_t most_slots = 1u << 16;
    for (const auto& map : snapshot.maps) {
        if (map.type_code != BPF_MAP_TYPE_PROG_ARRAY)
            continue;
        UniqueFd fd(bpf_map_get_fd_by_id(map.id));
        if (!fd)
            continue; // freed since the snapshot
        const std::uint32_t slots = std::min(map.max_entries, most_slots);
        for (std::uint32_t index = 0; index < slots; ++index) {
            __u32 prog_id = 0;
            if (bpf_map_lookup_elem(fd.get(), &index, &prog_id) == 0 && prog_id)
                out.prog_array_slots.push_back({map.id, index, prog_id});
        }
        if (map.max_entries > most_slots)
            out.notes.push_back(
                fmt::format("prog_array map {} has {} slots; only the first {} were read", map.id,
                            map.max_entries, most_slots));
    }
}

// --- classification -----------------------------------------------------------------------

const char* long_lived_reason(std::uint32_t type) {
    switch (type) {
    case BPF_PROG_TYPE_XDP:
        return "XDP programs attached by netlink stay on their device after the loader exits";
    case BPF_PROG_TYPE_SCHED_CLS:
    case BPF_PROG_TYPE_SCHED_ACT:
        return "tc programs attached by netlink stay on their device after the loader exits";
    case BPF_PROG_TYPE_LWT_IN:
    case BPF_PROG_TYPE_LWT_OUT:
    case BPF_PROG_TYPE_LWT_XMIT:
    case BPF_PROG_TYPE_LWT_SEG6LOCAL:
        return "lwt programs stay on their routes after the loader exits";
    case BPF_PROG_TYPE_SK_SKB:
    case BPF_PROG_TYPE_SK_MSG:
        return "sockmap programs stay with their map after the loader exits";
    case BPF_PROG_TYPE_LIRC_MODE2:
        return "lirc programs stay on their device after the loader exits";
    case BPF_PROG_TYPE_FLOW_DISSECTOR:
        return "flow dissector programs attached with BPF_PROG_ATTACH stay in their network "
               "namespace after the loader exits";
    case BPF_PROG_TYPE_STRUCT_OPS:
        return "struct_ops programs stay registered with the kernel after the loader exits";
    default:
        return "cgroup programs attached with BPF_PROG_ATTACH stay on their cgroup after the "
               "loader exits";
    }
}

template <typename T> void add_unique(std::vector<T>& list, const T& value) {
    if (std::find(list.begin(), list.end(), value) == list.end())
        list.push_back(value);
}

bool link_matches(const inventory::Link& link, const Attachment& a) {
    if (link.prog_id != a.prog_id)
        return false;
    if (a.place == Place::cgroup)
        return link.cgroup_id && a.cgroup_id && *link.cgroup_id == *a.cgroup_id &&
               link.attach_type == a.hook;
    if (a.place != Place::netdev || !link.ifindex || !a.ifindex || *link.ifindex != *a.ifindex)
        return false;
    if (a.hook.starts_with("xdp"))
        return link.type == "xdp";
    if (a.hook.starts_with("tcx"))
        return link.type == "tcx";
    if (a.hook.starts_with("netkit"))
        return link.type == "netkit";
    return false;
}

// A link the scan did not find at a device or cgroup: where its own description says it is.
Attachment from_link(const inventory::Link& link) {
    Attachment a;
    a.prog_id = link.prog_id;
    a.link_id = link.id;
    a.ifindex = link.ifindex;
    a.cgroup_id = link.cgroup_id;
    a.cgroup_path = link.cgroup_path;
    if (link.ifindex) {
        a.place = Place::netdev;
        a.hook = link.type == "xdp"         ? "xdp"
                 : link.attach_type.empty() ? link.type
                                            : link.attach_type;
    } else if (link.cgroup_id) {
        a.place = Place::cgroup;
        a.hook = link.attach_type;
    } else {
        a.hook = link.attach_type.empty() ? link.type : link.type + " " + link.attach_type;
        a.target = link.target;
    }
    return a;
}

// An object's report with what it says of itself: its own holders and pins.
template <typename Object> ObjectReport report_of(Kind kind, const Object& object) {
    ObjectReport o;
    o.kind = kind;
    o.id = object.id;
    o.type = object.type;
    o.name = object.name;
    for (const auto& h : object.holders)
        o.holders.push_back({h, ""});
    for (const auto& pin : object.pins)
        o.pins.push_back({pin, ""});
    return o;
}

void add_finding(ObjectReport& o, Finding finding, bool present) {
    if (present)
        o.findings.push_back(finding);
}

} // namespace

const char* lifetime_name(Lifetime lifetime) {
    return lifetime == Lifetime::long_lived ? "long-lived" : "short-lived";
}

bool long_lived_type(std::uint32_t prog_type) {
    switch (prog_type) {
    case BPF_PROG_TYPE_SCHED_CLS:
    case BPF_PROG_TYPE_SCHED_ACT:
    case BPF_PROG_TYPE_XDP:
    case BPF_PROG_TYPE_CGROUP_SKB:
    case BPF_PROG_TYPE_CGROUP_SOCK:
    case BPF_PROG_TYPE_LWT_IN:
    case BPF_PROG_TYPE_LWT_OUT:
    case BPF_PROG_TYPE_LWT_XMIT:
    case BPF_PROG_TYPE_SOCK_OPS:
    case BPF_PROG_TYPE_SK_SKB:
    case BPF_PROG_TYPE_CGROUP_DEVICE:
    case BPF_PROG_TYPE_SK_MSG:
    case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
    case BPF_PROG_TYPE_LWT_SEG6LOCAL:
    case BPF_PROG_TYPE_LIRC_MODE2:
    case BPF_PROG_TYPE_FLOW_DISSECTOR:
    case BPF_PROG_TYPE_CGROUP_SYSCTL:
    case BPF_PROG_TYPE_CGROUP_SOCKOPT:
    case BPF_PROG_TYPE_STRUCT_OPS:
        return true;
    default:
        return false;
    }
}

namespace {

struct FindingText {
    Finding finding;
    const char* name;
    const char* why;
};
constexpr FindingText finding_texts[] = {
    {Finding::orphaned, "orphaned",
     "Held by no process: the loader has exited or let go, and nothing will unload them but an "
     "admin"},
    {Finding::exe_deleted, "exe_deleted",
     "Held by a process whose executable was deleted or replaced (a tracer left running across "
     "an upgrade, or a binary that hides)"},
    {Finding::risky_helpers, "risky_helpers",
     "Calling helpers that write user memory, send signals or change a kernel function's return "
     "value"},
    {Finding::netdev, "netdev",
     "Attached to network devices: they see, and may drop or rewrite, every packet"},
    {Finding::cgroup, "cgroup",
     "Attached to cgroups: they filter or change what the cgroup's processes do"},
    {Finding::pinned, "pinned",
     "Pinned in bpffs: they survive every process until the pin is removed"},
    {Finding::unexplained, "unexplained",
     "Long-lived, held by nobody, attached nowhere audit could see"},
};

const FindingText& text_of(Finding finding) {
    for (const auto& text : finding_texts)
        if (text.finding == finding)
            return text;
    return finding_texts[0]; // unreachable: every Finding has a row
}

} // namespace

const char* finding_name(Finding finding) {
    return text_of(finding).name;
}

const char* finding_why(Finding finding) {
    return text_of(finding).why;
}

const char* risky_helper(const std::string& helper) {
    if (helper == "bpf_probe_write_user")
        return "writes user memory";
    if (helper == "bpf_send_signal" || helper == "bpf_send_signal_thread")
        return "sends signals";
    if (helper == "bpf_override_return")
        return "changes a kernel function's return value";
    return nullptr;
}

std::string Attachment::describe() const {
    std::string how;
    if (link_id)
        how = fmt::format(", link {}", *link_id);
    else if (hook.starts_with("xdp") || hook.starts_with("tc "))
        how = ", by netlink (no link)";
    else
        how = ", by BPF_PROG_ATTACH (no link)";
    switch (place) {
    case Place::netdev:
        if (ifname.empty())
            return fmt::format("{} on ifindex {} (in a network namespace audit did not find){}",
                               hook, ifindex.value_or(0), how);
        return fmt::format("{} on {} (ifindex {}){}{}", hook, ifname, ifindex.value_or(0),
                           netns.empty() ? "" : " in netns " + netns, how);
    case Place::cgroup:
        return fmt::format(
            "{} on cgroup {}{}", hook,
            cgroup_path.empty() ? fmt::format("id {}", cgroup_id.value_or(0)) : cgroup_path, how);
    case Place::other:
        break;
    }
    return fmt::format("{}{}{}", hook, target.empty() ? "" : ": " + target,
                       link_id ? fmt::format(", link {}", *link_id) : std::string());
}

bool ObjectReport::has(Finding finding) const {
    return std::find(findings.begin(), findings.end(), finding) != findings.end();
}

Report assess(const inventory::Snapshot& snapshot, const Scan& scan) {
    Report report;
    report.programs = snapshot.programs.size();
    report.maps = snapshot.maps.size();
    report.links = snapshot.links.size();
    report.helpers_checked = snapshot.helpers_resolved;
    report.notes = scan.notes;

    std::map<std::uint32_t, const inventory::Map*> maps;
    for (const auto& map : snapshot.maps)
        maps[map.id] = &map;
    // Processes holding a program directly or through one of its links.
    auto holders_of_program = [&](const inventory::Program& p, const std::string& prefix) {
        std::vector<Holding> found;
        for (const auto& h : p.holders)
            found.push_back({h, prefix});
        for (const auto& link : snapshot.links)
            if (link.prog_id == p.id)
                for (const auto& h : link.holders)
                    found.push_back({h, (prefix.empty() ? "" : prefix + ", ") +
                                            fmt::format("link {}", link.id)});
        return found;
    };

    std::map<std::uint32_t, Lifetime> program_lifetime;
    for (const auto& p : snapshot.programs) {
        ObjectReport o = report_of(Kind::prog, p);
        o.holders = holders_of_program(p, "");
        for (const auto& link : snapshot.links)
            if (link.prog_id == p.id)
                for (const auto& pin : link.pins)
                    o.pins.push_back({pin, fmt::format("link {}", link.id)});

        // A prog_array keeps its programs; whoever holds the array (or a program using it)
        // holds them too.
        for (const auto& slot : scan.prog_array_slots) {
            if (slot.prog_id != p.id)
                continue;
            add_unique(o.kept_by, slot.map_id);
            auto it = maps.find(slot.map_id);
            if (it == maps.end())
                continue;
            const std::string via = fmt::format("prog_array map {}", slot.map_id);
            for (const auto& h : it->second->holders)
                o.holders.push_back({h, via});
            for (const auto& pin : it->second->pins)
                o.pins.push_back({pin, via});
            for (const auto& user : snapshot.programs)
                if (user.id != p.id && std::find(user.map_ids.begin(), user.map_ids.end(),
                                                 slot.map_id) != user.map_ids.end())
                    for (auto& h :
                         holders_of_program(user, fmt::format("prog {} using prog_array map {}",
                                                              user.id, slot.map_id)))
                        o.holders.push_back(std::move(h));
        }

        std::vector<std::uint32_t> matched_links;
        for (const auto& found : scan.attachments) {
            if (found.prog_id != p.id)
                continue;
            Attachment a = found;
            for (const auto& link : snapshot.links)
                if (link_matches(link, a)) {
                    a.link_id = link.id;
                    matched_links.push_back(link.id);
                    break;
                }
            o.attachments.push_back(std::move(a));
        }
        for (const auto& link : snapshot.links)
            if (link.prog_id == p.id && std::find(matched_links.begin(), matched_links.end(),
                                                  link.id) == matched_links.end())
                o.attachments.push_back(from_link(link));

        for (const auto& helper : p.helpers)
            if (risky_helper(helper))
                add_unique(o.risky_helpers, helper);

        if (!o.pins.empty()) {
            o.lifetime = Lifetime::long_lived;
            o.lifetime_reason =
                fmt::format("pinned at {}{}: stays loaded until the pin is removed", o.pins[0].path,
                            o.pins[0].via.empty() ? "" : " (" + o.pins[0].via + ")");
        } else if (long_lived_type(p.type_code)) {
            o.lifetime = Lifetime::long_lived;
            o.lifetime_reason = long_lived_reason(p.type_code);
            const bool only_links =
                !o.attachments.empty() &&
                std::all_of(o.attachments.begin(), o.attachments.end(),
                            [](const Attachment& a) { return a.link_id.has_value(); });
            if (only_links)
                o.lifetime_reason += "; this one is attached through a link, which ends with "
                                     "its last holder";
        } else {
            o.lifetime = Lifetime::short_lived;
            o.lifetime_reason = "unloaded when the last process holding it, or its link or "
                                "perf event, lets go";
        }
        program_lifetime[p.id] = o.lifetime;

        const bool any_deleted = std::any_of(o.holders.begin(), o.holders.end(),
                                             [](const Holding& h) { return h.holder.exe_deleted; });
        auto placed = [&](Place place) {
            return std::any_of(o.attachments.begin(), o.attachments.end(),
                               [&](const Attachment& a) { return a.place == place; });
        };
        add_finding(o, Finding::orphaned, o.holders.empty());
        add_finding(o, Finding::exe_deleted, any_deleted);
        add_finding(o, Finding::risky_helpers, !o.risky_helpers.empty());
        add_finding(o, Finding::netdev, placed(Place::netdev));
        add_finding(o, Finding::cgroup, placed(Place::cgroup));
        add_finding(o, Finding::pinned, !o.pins.empty());
        const bool unexplained = long_lived_type(p.type_code) && o.holders.empty() &&
                                 o.pins.empty() && o.attachments.empty() && o.kept_by.empty();
        add_finding(o, Finding::unexplained, unexplained);
        if (unexplained)
            o.note = "no holder, no pin, no link, no attachment found: attached by netlink in a "
                     "network namespace audit could not enter, or kept by another object (a "
                     "struct_ops or sockmap map)";
        else if (o.holders.empty() && o.pins.empty() && o.lifetime == Lifetime::short_lived &&
                 o.kept_by.empty())
            o.note = "no process holds it: kept by the perf event or socket it is attached to, or "
                     "by another object";
        report.long_lived += o.lifetime == Lifetime::long_lived;
        report.objects.push_back(std::move(o));
    }

    for (const auto& m : snapshot.maps) {
        ObjectReport o = report_of(Kind::map, m);
        for (const auto& p : snapshot.programs)
            if (std::find(p.map_ids.begin(), p.map_ids.end(), m.id) != p.map_ids.end())
                o.used_by.push_back(p.id);
        const auto long_lived_user =
            std::find_if(o.used_by.begin(), o.used_by.end(), [&](std::uint32_t id) {
                return program_lifetime[id] == Lifetime::long_lived;
            });
        if (!o.pins.empty()) {
            o.lifetime = Lifetime::long_lived;
            o.lifetime_reason =
                fmt::format("pinned at {}: stays until the pin is removed", o.pins[0].path);
        } else if (long_lived_user != o.used_by.end()) {
            o.lifetime = Lifetime::long_lived;
            o.lifetime_reason = fmt::format("used by long-lived program {}", *long_lived_user);
        } else {
            o.lifetime = Lifetime::short_lived;
            o.lifetime_reason = "freed when the last process or program using it lets go";
        }
        const bool any_deleted = std::any_of(o.holders.begin(), o.holders.end(),
                                             [](const Holding& h) { return h.holder.exe_deleted; });
        // A map used by a program shares that program's fate; the program carries the finding.
        add_finding(o, Finding::orphaned, o.holders.empty() && o.used_by.empty());
        add_finding(o, Finding::exe_deleted, any_deleted);
        add_finding(o, Finding::pinned, !o.pins.empty());
        if (o.holders.empty() && o.used_by.empty() && o.pins.empty())
            o.note = "no holder, no program, no pin: kept by another map (a map of maps)";
        report.objects.push_back(std::move(o));
    }
    return report;
}

Scan scan(const inventory::Snapshot& snapshot) {
    Scan out;
    scan_network_namespaces(out);
    scan_cgroups(out);
    scan_prog_arrays(snapshot, out);
    return out;
}

} // namespace coretrace::audit
