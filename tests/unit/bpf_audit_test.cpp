// The audit's classification (audit::assess) on hand-built inventory snapshots and scans: no
// kernel needed. The kernel tests check the same against objects the kernel really holds.
#include "coretrace/bpf_audit.hpp"

#include <gtest/gtest.h>
#include <linux/bpf.h>

using namespace coretrace;
using namespace coretrace::audit;

namespace {

inventory::Holder holder(pid_t pid, int fd, bool exe_deleted = false) {
    return inventory::Holder{pid, "loader", fd, exe_deleted};
}

inventory::Program program(std::uint32_t id, std::uint32_t type_code, const char* type) {
    inventory::Program p;
    p.id = id;
    p.type_code = type_code;
    p.type = type;
    p.name = "p" + std::to_string(id);
    return p;
}

inventory::Map map(std::uint32_t id, std::uint32_t type_code, const char* type) {
    inventory::Map m;
    m.id = id;
    m.type_code = type_code;
    m.type = type;
    return m;
}

const ObjectReport& find(const Report& report, inventory::Kind kind, std::uint32_t id) {
    for (const auto& o : report.objects)
        if (o.kind == kind && o.id == id)
            return o;
    throw std::runtime_error("no object " + std::to_string(id));
}

std::vector<Finding> findings(std::initializer_list<Finding> list) {
    return list;
}

Attachment on_device(std::uint32_t prog_id, const char* hook, std::uint32_t ifindex,
                     const char* ifname, const char* netns) {
    Attachment a;
    a.prog_id = prog_id;
    a.place = Place::netdev;
    a.hook = hook;
    a.ifindex = ifindex;
    a.ifname = ifname;
    a.netns = netns;
    return a;
}

} // namespace

TEST(BpfAudit, LifetimeByProgramType) {
    for (auto type : {BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_SCHED_ACT,
                      BPF_PROG_TYPE_CGROUP_SKB, BPF_PROG_TYPE_CGROUP_DEVICE, BPF_PROG_TYPE_LWT_XMIT,
                      BPF_PROG_TYPE_STRUCT_OPS, BPF_PROG_TYPE_SK_MSG})
        EXPECT_TRUE(long_lived_type(type)) << type;
    for (auto type : {BPF_PROG_TYPE_KPROBE, BPF_PROG_TYPE_TRACEPOINT, BPF_PROG_TYPE_RAW_TRACEPOINT,
                      BPF_PROG_TYPE_PERF_EVENT, BPF_PROG_TYPE_SOCKET_FILTER, BPF_PROG_TYPE_TRACING,
                      BPF_PROG_TYPE_LSM})
        EXPECT_FALSE(long_lived_type(type)) << type;
}

TEST(BpfAudit, RiskyHelpersByName) {
    EXPECT_STREQ(risky_helper("bpf_probe_write_user"), "writes user memory");
    EXPECT_STREQ(risky_helper("bpf_send_signal"), "sends signals");
    EXPECT_STREQ(risky_helper("bpf_send_signal_thread"), "sends signals");
    EXPECT_NE(risky_helper("bpf_override_return"), nullptr);
    EXPECT_EQ(risky_helper("bpf_map_lookup_elem"), nullptr);
    EXPECT_EQ(risky_helper("bpf_probe_read_user"), nullptr);
}

// A tracing program held through its link, calling a risky helper: short-lived, flagged only for
// the helper, its link shown as where it runs.
TEST(BpfAudit, HeldTracingProgramWithARiskyHelper) {
    inventory::Snapshot snapshot;
    auto p = program(1, BPF_PROG_TYPE_KPROBE, "kprobe");
    p.helpers = {"bpf_map_lookup_elem", "bpf_send_signal"};
    snapshot.programs.push_back(p);
    inventory::Link link;
    link.id = 5;
    link.prog_id = 1;
    link.type = "perf_event";
    link.target = "kprobe do_sys_openat2";
    link.holders = {holder(10, 7)};
    snapshot.links.push_back(link);
    snapshot.helpers_resolved = true;

    const Report report = assess(snapshot, {});
    EXPECT_TRUE(report.helpers_checked);
    const auto& o = find(report, inventory::Kind::prog, 1);
    EXPECT_EQ(o.lifetime, Lifetime::short_lived);
    EXPECT_EQ(o.findings, findings({Finding::risky_helpers}));
    EXPECT_EQ(o.risky_helpers, std::vector<std::string>{"bpf_send_signal"});
    ASSERT_EQ(o.holders.size(), 1u);
    EXPECT_EQ(o.holders[0].holder.pid, 10);
    EXPECT_EQ(o.holders[0].via, "link 5");
    ASSERT_EQ(o.attachments.size(), 1u);
    EXPECT_EQ(o.attachments[0].place, Place::other);
    EXPECT_EQ(o.attachments[0].describe(), "perf_event: kprobe do_sys_openat2, link 5");
    EXPECT_EQ(report.long_lived, 0u);
}

// XDP through a pinned link nobody holds, in another namespace: long-lived by its pin, flagged as
// held by nobody, on a device, pinned; the scan's attachment is matched to the link.
TEST(BpfAudit, XdpThroughAPinnedLinkInANamedNamespace) {
    inventory::Snapshot snapshot;
    snapshot.programs.push_back(program(2, BPF_PROG_TYPE_XDP, "xdp"));
    snapshot.programs.back().map_ids = {22};
    inventory::Link link;
    link.id = 6;
    link.prog_id = 2;
    link.type = "xdp";
    link.ifindex = 3;
    link.pins = {"/sys/fs/bpf/xdp_link"};
    snapshot.links.push_back(link);
    snapshot.maps.push_back(map(22, BPF_MAP_TYPE_ARRAY, "array"));

    Scan scan;
    scan.attachments.push_back(on_device(2, "xdp (driver)", 3, "veth1", "blue"));

    const Report report = assess(snapshot, scan);
    const auto& o = find(report, inventory::Kind::prog, 2);
    EXPECT_EQ(o.lifetime, Lifetime::long_lived);
    EXPECT_EQ(o.lifetime_reason,
              "pinned at /sys/fs/bpf/xdp_link (link 6): stays loaded until the pin is removed");
    EXPECT_EQ(o.findings, findings({Finding::orphaned, Finding::netdev, Finding::pinned}));
    ASSERT_EQ(o.attachments.size(), 1u); // the link is that attachment, not a second one
    EXPECT_EQ(o.attachments[0].link_id, 6u);
    EXPECT_EQ(o.attachments[0].describe(),
              "xdp (driver) on veth1 (ifindex 3) in netns blue, link 6");
    ASSERT_EQ(o.pins.size(), 1u);
    EXPECT_EQ(o.pins[0].via, "link 6");

    // Its map lives as long as it: long-lived, and no finding of its own.
    const auto& m = find(report, inventory::Kind::map, 22);
    EXPECT_EQ(m.lifetime, Lifetime::long_lived);
    EXPECT_EQ(m.lifetime_reason, "used by long-lived program 2");
    EXPECT_TRUE(m.findings.empty());
    EXPECT_EQ(m.used_by, std::vector<std::uint32_t>{2});
}

// tc by netlink and cgroup by BPF_PROG_ATTACH, held by nobody: long-lived by type, flagged, with
// no link; a tc program found nowhere is unexplained.
TEST(BpfAudit, NetlinkAndProgAttachWithoutLinks) {
    inventory::Snapshot snapshot;
    snapshot.programs.push_back(program(3, BPF_PROG_TYPE_SCHED_CLS, "sched_cls"));
    snapshot.programs.push_back(program(4, BPF_PROG_TYPE_CGROUP_SKB, "cgroup_skb"));
    snapshot.programs.push_back(program(5, BPF_PROG_TYPE_SCHED_CLS, "sched_cls"));
    Scan scan;
    scan.attachments.push_back(on_device(3, "tc egress", 1, "lo", ""));
    Attachment cgroup;
    cgroup.prog_id = 4;
    cgroup.place = Place::cgroup;
    cgroup.hook = "cgroup_inet_egress";
    cgroup.cgroup_id = 99;
    cgroup.cgroup_path = "/sys/fs/cgroup/x";
    scan.attachments.push_back(cgroup);

    const Report report = assess(snapshot, scan);
    EXPECT_EQ(report.long_lived, 3u);
    const auto& o3 = find(report, inventory::Kind::prog, 3);
    EXPECT_EQ(o3.findings, findings({Finding::orphaned, Finding::netdev}));
    EXPECT_EQ(o3.attachments.at(0).describe(), "tc egress on lo (ifindex 1), by netlink (no link)");
    EXPECT_EQ(o3.lifetime, Lifetime::long_lived);

    const auto& o4 = find(report, inventory::Kind::prog, 4);
    EXPECT_EQ(o4.findings, findings({Finding::orphaned, Finding::cgroup}));
    EXPECT_EQ(o4.attachments.at(0).describe(),
              "cgroup_inet_egress on cgroup /sys/fs/cgroup/x, by BPF_PROG_ATTACH (no link)");

    const auto& o5 = find(report, inventory::Kind::prog, 5);
    EXPECT_EQ(o5.findings, findings({Finding::orphaned, Finding::unexplained}));
    EXPECT_FALSE(o5.note.empty());
}

// A program in a prog_array whose map a process holds is held through it; a pinned map nobody
// uses is flagged; a holder with a deleted executable is flagged.
TEST(BpfAudit, ProgArraysPinnedMapsAndDeletedExecutables) {
    inventory::Snapshot snapshot;
    snapshot.programs.push_back(program(6, BPF_PROG_TYPE_SOCKET_FILTER, "socket_filter"));
    snapshot.programs.push_back(program(7, BPF_PROG_TYPE_TRACEPOINT, "tracepoint"));
    snapshot.programs.back().holders = {holder(12, 4, true)};
    auto array = map(20, BPF_MAP_TYPE_PROG_ARRAY, "prog_array");
    array.holders = {holder(11, 3)};
    snapshot.maps.push_back(array);
    auto pinned = map(21, BPF_MAP_TYPE_HASH, "hash");
    pinned.pins = {"/sys/fs/bpf/counts"};
    snapshot.maps.push_back(pinned);
    Scan scan;
    scan.prog_array_slots.push_back({20, 0, 6});

    const Report report = assess(snapshot, scan);
    const auto& o6 = find(report, inventory::Kind::prog, 6);
    EXPECT_TRUE(o6.findings.empty());
    EXPECT_EQ(o6.kept_by, std::vector<std::uint32_t>{20});
    ASSERT_EQ(o6.holders.size(), 1u);
    EXPECT_EQ(o6.holders[0].via, "prog_array map 20");

    const auto& o7 = find(report, inventory::Kind::prog, 7);
    EXPECT_EQ(o7.findings, findings({Finding::exe_deleted}));

    const auto& m20 = find(report, inventory::Kind::map, 20);
    EXPECT_TRUE(m20.findings.empty());
    const auto& m21 = find(report, inventory::Kind::map, 21);
    EXPECT_EQ(m21.findings, findings({Finding::orphaned, Finding::pinned}));
    EXPECT_EQ(m21.lifetime, Lifetime::long_lived);
    EXPECT_EQ(report.objects.size(), 4u);
    EXPECT_EQ(report.objects[0].id, 6u); // programs first, then maps
    EXPECT_EQ(report.objects[2].id, 20u);
}

TEST(BpfAudit, NetdevLinkInANamespaceTheScanMissed) {
    inventory::Snapshot snapshot;
    snapshot.programs.push_back(program(8, BPF_PROG_TYPE_SCHED_CLS, "sched_cls"));
    inventory::Link link;
    link.id = 9;
    link.prog_id = 8;
    link.type = "tcx";
    link.attach_type = "tcx_ingress";
    link.ifindex = 4;
    link.holders = {holder(13, 5)};
    snapshot.links.push_back(link);

    const Report report = assess(snapshot, {});
    const auto& o = find(report, inventory::Kind::prog, 8);
    EXPECT_EQ(o.findings, findings({Finding::netdev}));
    EXPECT_EQ(o.lifetime, Lifetime::long_lived);
    EXPECT_TRUE(o.lifetime_reason.ends_with(
        "; this one is attached through a link, which ends with its last holder"))
        << o.lifetime_reason;
    ASSERT_EQ(o.attachments.size(), 1u);
    EXPECT_EQ(o.attachments[0].describe(),
              "tcx_ingress on ifindex 4 (in a network namespace audit did not find), link 9");
}
