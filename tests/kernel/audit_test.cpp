// `coretrace audit`: what it reports about BPF objects this test made itself, each made through
// the bpf(2) syscall or netlink so that the test knows the truth: XDP programs on a veth in a
// network namespace of its own (through a link, and by netlink with the loader's fd closed), tc
// programs (tcx link, and a clsact filter by netlink), cgroup_skb programs on a cgroup of its own
// (link, and BPF_PROG_ATTACH), a pinned map, a pinned program whose loader exited, a program
// calling bpf_send_signal and bpf_probe_write_user, a holder whose executable was deleted, and a
// program with nothing to look at. Every object is found by its id: other BPF objects may exist.
#include "json_lines.hpp"
#include "subprocess.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int exit_findings = 3;
constexpr std::uint32_t attach_tcx_ingress = 46; // newer than the build's <linux/bpf.h>

struct AuditRun {
    int code;
    std::vector<json> records;
    std::string out, err;
};

// `coretrace audit ARGS... --json`, parsed.
AuditRun audit(std::vector<std::string> args, bool as_json = true) {
    args.insert(args.begin(), {coretrace_binary(), "audit"});
    if (as_json)
        args.push_back("--json");
    Completed done = run(args);
    AuditRun result{done.code, {}, done.out, done.err};
    if (as_json)
        result.records = json_lines(done.out);
    return result;
}

// The one record of a run that must have found something about the one object it audited.
json flagged_one(const AuditRun& run) {
    EXPECT_EQ(run.code, exit_findings) << run.err;
    if (run.records.size() != 1) {
        ADD_FAILURE() << "expected one record:\n" << run.out << run.err;
        return json::object();
    }
    return run.records[0];
}

const json* object(const AuditRun& run, const char* kind, unsigned id) {
    for (const auto& record : run.records)
        if (record["kind"] == kind && record["id"] == id)
            return &record;
    return nullptr;
}

bool has(const json& list, const std::string& value) {
    for (const auto& item : list)
        if (item == value)
            return true;
    return false;
}

bool held_by(const json& record, pid_t pid) {
    for (const auto& holder : record["holders"])
        if (holder["pid"] == pid)
            return true;
    return false;
}

// r0 = imm; exit: the smallest program of any type (XDP_PASS = 2, TC_ACT_OK = 0, cgroup_skb
// "allow" = 1).
int load_returning(bpf_prog_type type, const char* name, int imm,
                   bpf_attach_type expected = static_cast<bpf_attach_type>(0)) {
    const bpf_insn insns[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, imm},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = expected);
    return bpf_prog_load(type, name, "GPL", insns, 2, &opts);
}

unsigned prog_id(int fd) {
    bpf_prog_info info{};
    __u32 size = sizeof info;
    return bpf_obj_get_info_by_fd(fd, &info, &size) == 0 ? info.id : 0;
}

unsigned map_id(int fd) {
    bpf_map_info info{};
    __u32 size = sizeof info;
    return bpf_obj_get_info_by_fd(fd, &info, &size) == 0 ? info.id : 0;
}

unsigned link_id(int fd) {
    bpf_link_info info{};
    __u32 size = sizeof info;
    return bpf_obj_get_info_by_fd(fd, &info, &size) == 0 ? info.id : 0;
}

struct Fd {
    int fd = -1;
    explicit Fd(int value = -1) : fd(value) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    void reset() {
        if (fd >= 0)
            ::close(fd);
        fd = -1;
    }
};

// A network namespace named under /run/netns with a veth pair inside, both up; deleted (with the
// devices and whatever is attached to them) when the object dies.
class TestNetns {
  public:
    explicit TestNetns(const std::string& suffix)
        : name_("coretrace-audit-" + suffix), a_("cta" + suffix), b_("ctb" + suffix) {
        ok_ = ip({"netns", "add", name_}) &&
              ip({"-n", name_, "link", "add", a_, "type", "veth", "peer", "name", b_}) &&
              ip({"-n", name_, "link", "set", a_, "up"}) &&
              ip({"-n", name_, "link", "set", b_, "up"});
    }
    ~TestNetns() { ip({"netns", "del", name_}); }
    TestNetns(const TestNetns&) = delete;
    TestNetns& operator=(const TestNetns&) = delete;

    bool ok() const { return ok_; }
    const std::string& name() const { return name_; }
    const std::string& a() const { return a_; }
    const std::string& b() const { return b_; }
    std::string path() const { return "/run/netns/" + name_; }

  private:
    static bool ip(std::vector<std::string> args) {
        args.insert(args.begin(), "/usr/sbin/ip");
        Completed done = run(args);
        EXPECT_EQ(done.code, 0) << done.err;
        return done.code == 0;
    }
    std::string name_, a_, b_;
    bool ok_ = false;
};

// Moves this thread into a network namespace for the object's lifetime.
class InNetns {
  public:
    explicit InNetns(const std::string& path)
        : own_(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) {
        Fd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        entered_ = target.fd >= 0 && ::setns(target.fd, CLONE_NEWNET) == 0;
    }
    ~InNetns() {
        if (entered_ && ::setns(own_.fd, CLONE_NEWNET) != 0)
            std::abort(); // the rest of the tests would run in the wrong namespace
    }
    InNetns(const InNetns&) = delete;
    InNetns& operator=(const InNetns&) = delete;
    bool entered() const { return entered_; }

  private:
    Fd own_;
    bool entered_ = false;
};

// The cgroup v2 mount, or "" when there is none.
std::string cgroup2_root() {
    std::ifstream mounts("/proc/self/mounts");
    std::string device, point, type, rest;
    while (mounts >> device >> point >> type && std::getline(mounts, rest))
        if (type == "cgroup2")
            return point;
    return {};
}

// A cgroup directory of the test's own, removed when the object dies.
class TestCgroup {
  public:
    explicit TestCgroup(const std::string& root, const std::string& suffix)
        : path_(root + "/coretrace-audit-" + suffix) {
        ok_ = ::mkdir(path_.c_str(), 0755) == 0;
        fd_.fd = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    ~TestCgroup() {
        fd_.reset();
        ::rmdir(path_.c_str());
    }
    TestCgroup(const TestCgroup&) = delete;
    TestCgroup& operator=(const TestCgroup&) = delete;
    bool ok() const { return ok_ && fd_.fd >= 0; }
    int fd() const { return fd_.fd; }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    Fd fd_;
    bool ok_ = false;
};

// A bpffs path unlinked when the object dies.
struct PinPath {
    std::string path;
    explicit PinPath(const std::string& what)
        : path("/sys/fs/bpf/coretrace-audit-" + what + "-" + std::to_string(::getpid())) {
        ::unlink(path.c_str());
    }
    ~PinPath() { ::unlink(path.c_str()); }
    PinPath(const PinPath&) = delete;
    PinPath& operator=(const PinPath&) = delete;
};

const json* attachment(const json& record, const std::string& hook) {
    for (const auto& a : record["attachments"])
        if (a["hook"] == hook)
            return &a;
    return nullptr;
}

std::string suffix() {
    return std::to_string(::getpid() % 1000000);
}

} // namespace

// XDP on one veth through a link the test holds, XDP on the peer by netlink in generic mode
// with the loader's fd closed, a tcx link, and a tc clsact filter by netlink with its fd closed:
// each long-lived, on its device in the test's namespace; the netlink ones held by no process.
TEST(Audit, NetworkDeviceProgramsWithTheirDeviceAndNamespace) {
    TestNetns netns(suffix());
    ASSERT_TRUE(netns.ok());
    Fd xdp_link_prog(load_returning(BPF_PROG_TYPE_XDP, "ct_audit_xdpl", 2));
    Fd xdp_legacy_prog(load_returning(BPF_PROG_TYPE_XDP, "ct_audit_xdpn", 2));
    Fd tcx_prog(load_returning(BPF_PROG_TYPE_SCHED_CLS, "ct_audit_tcx", 0));
    Fd tc_prog(load_returning(BPF_PROG_TYPE_SCHED_CLS, "ct_audit_tc", 0));
    ASSERT_GE(xdp_link_prog.fd, 0) << errno;
    ASSERT_GE(xdp_legacy_prog.fd, 0) << errno;
    ASSERT_GE(tcx_prog.fd, 0) << errno;
    ASSERT_GE(tc_prog.fd, 0) << errno;
    const unsigned xdp_link_id = prog_id(xdp_link_prog.fd),
                   xdp_legacy_id = prog_id(xdp_legacy_prog.fd), tcx_id = prog_id(tcx_prog.fd),
                   tc_id = prog_id(tc_prog.fd);

    Fd xdp_link, tcx_link;
    unsigned ifindex_a = 0, ifindex_b = 0;
    {
        InNetns inside(netns.path());
        ASSERT_TRUE(inside.entered()) << errno;
        ifindex_a = if_nametoindex(netns.a().c_str());
        ifindex_b = if_nametoindex(netns.b().c_str());
        ASSERT_NE(ifindex_a, 0u);
        ASSERT_NE(ifindex_b, 0u);
        xdp_link.fd =
            bpf_link_create(xdp_link_prog.fd, static_cast<int>(ifindex_a), BPF_XDP, nullptr);
        ASSERT_GE(xdp_link.fd, 0) << "xdp link: " << xdp_link.fd;
        ASSERT_EQ(bpf_xdp_attach(static_cast<int>(ifindex_b), xdp_legacy_prog.fd,
                                 XDP_FLAGS_SKB_MODE, nullptr),
                  0);
        tcx_link.fd = bpf_link_create(tcx_prog.fd, static_cast<int>(ifindex_a),
                                      static_cast<bpf_attach_type>(attach_tcx_ingress), nullptr);
        ASSERT_GE(tcx_link.fd, 0) << "tcx link: " << tcx_link.fd;
        LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex_a),
                    .attach_point = BPF_TC_EGRESS);
        ASSERT_EQ(bpf_tc_hook_create(&hook), 0);
        LIBBPF_OPTS(bpf_tc_opts, tc_opts, .prog_fd = tc_prog.fd);
        ASSERT_EQ(bpf_tc_attach(&hook, &tc_opts), 0);
    }
    // From now on only the device keeps these two.
    xdp_legacy_prog.reset();
    tc_prog.reset();

    AuditRun report =
        audit({"--prog", std::to_string(xdp_link_id), "--prog", std::to_string(xdp_legacy_id),
               "--prog", std::to_string(tcx_id), "--prog", std::to_string(tc_id)});
    EXPECT_EQ(report.code, exit_findings) << report.err;
    ASSERT_EQ(report.records.size(), 4u) << report.out << report.err;

    struct Expected {
        unsigned id;
        const char* type;
        const char* hook;
        std::string ifname;
        unsigned ifindex;
        unsigned link; // 0: attached by netlink, nobody holds it
    };
    for (const Expected& e :
         {Expected{xdp_link_id, "xdp", "xdp (driver)", netns.a(), ifindex_a, link_id(xdp_link.fd)},
          Expected{xdp_legacy_id, "xdp", "xdp (generic)", netns.b(), ifindex_b, 0},
          Expected{tcx_id, "sched_cls", "tcx_ingress", netns.a(), ifindex_a, link_id(tcx_link.fd)},
          Expected{tc_id, "sched_cls", "tc egress", netns.a(), ifindex_a, 0}}) {
        const json* prog = object(report, "prog", e.id);
        ASSERT_NE(prog, nullptr) << e.hook;
        EXPECT_EQ((*prog)["type"], e.type);
        EXPECT_EQ((*prog)["lifetime"], "long-lived") << prog->dump();
        EXPECT_TRUE(has((*prog)["findings"], "netdev")) << prog->dump();
        const json* where = attachment(*prog, e.hook);
        ASSERT_NE(where, nullptr) << prog->dump();
        EXPECT_EQ((*where)["place"], "netdev");
        EXPECT_EQ((*where)["ifname"], e.ifname);
        EXPECT_EQ((*where)["ifindex"], e.ifindex);
        EXPECT_EQ((*where)["netns"], netns.name());
        if (e.link) {
            EXPECT_EQ((*where)["link_id"], e.link) << prog->dump();
            EXPECT_TRUE(held_by(*prog, ::getpid())) << prog->dump();
            EXPECT_FALSE(has((*prog)["findings"], "orphaned")) << prog->dump();
        } else {
            EXPECT_TRUE((*where)["link_id"].is_null()) << prog->dump();
            EXPECT_TRUE((*prog)["holders"].empty()) << prog->dump();
            EXPECT_TRUE(has((*prog)["findings"], "orphaned")) << prog->dump();
            EXPECT_EQ((*where)["text"], std::string(e.hook) + " on " + e.ifname + " (ifindex " +
                                            std::to_string(e.ifindex) + ") in netns " +
                                            netns.name() + ", by netlink (no link)");
        }
    }

    // The text form groups them under the devices' heading, each with its place.
    AuditRun text = audit({"--prog", std::to_string(xdp_legacy_id)}, false);
    EXPECT_EQ(text.code, exit_findings);
    EXPECT_NE(text.out.find("Attached to network devices"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("Held by no process"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("prog " + std::to_string(xdp_legacy_id) +
                            "  xdp  ct_audit_xdpn  "
                            "long-lived: "),
              std::string::npos)
        << text.out;
    EXPECT_NE(text.out.find("attached  xdp (generic) on " + netns.b()), std::string::npos)
        << text.out;
}

// cgroup_skb on a cgroup of the test's own: ingress through a link the test holds, egress by
// BPF_PROG_ATTACH with the loader's fd closed. Both long-lived, on that cgroup's path.
TEST(Audit, CgroupProgramsWithTheirCgroup) {
    const std::string root = cgroup2_root();
    if (root.empty())
        GTEST_SKIP() << "no cgroup v2 mount";
    TestCgroup cgroup(root, suffix());
    ASSERT_TRUE(cgroup.ok()) << cgroup.path() << ": " << errno;
    Fd ingress(
        load_returning(BPF_PROG_TYPE_CGROUP_SKB, "ct_audit_cgin", 1, BPF_CGROUP_INET_INGRESS));
    Fd egress(
        load_returning(BPF_PROG_TYPE_CGROUP_SKB, "ct_audit_cgout", 1, BPF_CGROUP_INET_EGRESS));
    ASSERT_GE(ingress.fd, 0) << errno;
    ASSERT_GE(egress.fd, 0) << errno;
    const unsigned ingress_id = prog_id(ingress.fd), egress_id = prog_id(egress.fd);
    Fd link(bpf_link_create(ingress.fd, cgroup.fd(), BPF_CGROUP_INET_INGRESS, nullptr));
    ASSERT_GE(link.fd, 0) << link.fd;
    ASSERT_EQ(bpf_prog_attach(egress.fd, cgroup.fd(), BPF_CGROUP_INET_EGRESS, 0), 0) << errno;
    egress.reset(); // only the cgroup keeps it now

    AuditRun report =
        audit({"--prog", std::to_string(ingress_id), "--prog", std::to_string(egress_id)});
    bpf_prog_detach(cgroup.fd(), BPF_CGROUP_INET_EGRESS);
    EXPECT_EQ(report.code, exit_findings) << report.err;
    ASSERT_EQ(report.records.size(), 2u) << report.out << report.err;

    const json* in = object(report, "prog", ingress_id);
    ASSERT_NE(in, nullptr);
    EXPECT_EQ((*in)["type"], "cgroup_skb");
    EXPECT_EQ((*in)["lifetime"], "long-lived");
    EXPECT_EQ((*in)["findings"], json::array({"cgroup"})) << in->dump();
    const json* in_where = attachment(*in, "cgroup_inet_ingress");
    ASSERT_NE(in_where, nullptr) << in->dump();
    EXPECT_EQ((*in_where)["cgroup_path"], cgroup.path());
    EXPECT_EQ((*in_where)["link_id"], link_id(link.fd));
    EXPECT_TRUE(held_by(*in, ::getpid())) << in->dump();

    const json* out = object(report, "prog", egress_id);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ((*out)["lifetime"], "long-lived");
    EXPECT_EQ((*out)["findings"], json::array({"orphaned", "cgroup"})) << out->dump();
    const json* out_where = attachment(*out, "cgroup_inet_egress");
    ASSERT_NE(out_where, nullptr) << out->dump();
    EXPECT_EQ((*out_where)["cgroup_path"], cgroup.path());
    EXPECT_TRUE((*out_where)["link_id"].is_null());
    EXPECT_EQ((*out_where)["text"],
              "cgroup_inet_egress on cgroup " + cgroup.path() + ", by BPF_PROG_ATTACH (no link)");
    EXPECT_TRUE((*out)["holders"].empty()) << out->dump();
}

// A map pinned and closed: long-lived through its pin, held by nobody; the machine-wide audit
// exits 3 while it exists.
TEST(Audit, PinnedMapHeldByNobody) {
    PinPath pin("map");
    Fd map(bpf_map_create(BPF_MAP_TYPE_HASH, "ct_audit_map", 4, 8, 16, nullptr));
    ASSERT_GE(map.fd, 0) << errno;
    const unsigned id = map_id(map.fd);
    ASSERT_EQ(bpf_obj_pin(map.fd, pin.path.c_str()), 0) << errno;
    map.reset();

    const json record = flagged_one(audit({"--map", std::to_string(id)}));
    EXPECT_EQ(record["kind"], "map");
    EXPECT_EQ(record["name"], "ct_audit_map");
    EXPECT_EQ(record["lifetime"], "long-lived");
    EXPECT_EQ(record["findings"], json::array({"orphaned", "pinned"})) << record.dump();
    EXPECT_EQ(record["pins"], json::array({{{"path", pin.path}, {"via", ""}}})) << record.dump();
    EXPECT_TRUE(record["holders"].empty());
    EXPECT_TRUE(record["used_by_progs"].empty());

    AuditRun everything = audit({});
    EXPECT_EQ(everything.code, exit_findings) << everything.err;
    const json* found = object(everything, "map", id);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(*found, record);
}

// A loader that pins its program and exits: the program is flagged as held by no process,
// long-lived through its pin although a socket filter is short-lived by type.
TEST(Audit, OrphanedPinnedProgramOfAnExitedLoader) {
    PinPath pin("prog");
    Child loader(
        [&] {
            int fd = load_returning(BPF_PROG_TYPE_SOCKET_FILTER, "ct_audit_orph", 0);
            if (fd < 0 || bpf_obj_pin(fd, pin.path.c_str()) != 0)
                _exit(1);
        },
        true);
    loader.go();
    ASSERT_EQ(loader.reap(), 0);
    unsigned id = 0;
    {
        Fd pinned(bpf_obj_get(pin.path.c_str()));
        ASSERT_GE(pinned.fd, 0) << errno;
        id = prog_id(pinned.fd);
    } // closed: the test must not be its holder

    const json prog = flagged_one(audit({"--prog", std::to_string(id)}));
    EXPECT_EQ(prog["name"], "ct_audit_orph");
    EXPECT_EQ(prog["type"], "socket_filter");
    EXPECT_EQ(prog["lifetime"], "long-lived");
    EXPECT_NE(prog["lifetime_reason"].get<std::string>().find(pin.path), std::string::npos);
    EXPECT_EQ(prog["findings"], json::array({"orphaned", "pinned"})) << prog.dump();
    EXPECT_TRUE(prog["holders"].empty());
    EXPECT_TRUE(prog["attachments"].empty());

    AuditRun text = audit({"--prog", std::to_string(id)}, false);
    EXPECT_EQ(text.code, exit_findings);
    const auto orphans = text.out.find("Held by no process");
    const auto pinned = text.out.find("Pinned in bpffs");
    ASSERT_NE(orphans, std::string::npos) << text.out;
    ASSERT_NE(pinned, std::string::npos) << text.out;
    const std::string line = "prog " + std::to_string(id) + "  socket_filter  ct_audit_orph";
    EXPECT_NE(text.out.find(line, orphans), std::string::npos) << text.out;
    EXPECT_NE(text.out.find(line, pinned), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("pinned    " + pin.path), std::string::npos) << text.out;
}

// A kprobe program (loaded, not attached, held by the test) that calls bpf_send_signal and
// bpf_probe_write_user: short-lived, and flagged for its helpers only.
TEST(Audit, RiskyHelpersFromTheTranslatedInstructions) {
    const bpf_insn both[] = {
        {BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -8, 0},          // *(u64 *)(r10 - 8) = 0
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 0},          // r1 = 0 (user address)
        {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0}, // r2 = r10
        {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -8},         // r2 -= 8
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 8},          // r3 = 8
        {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_probe_write_user},
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 0}, // r1 = 0 (no signal)
        {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_send_signal},
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    Fd prog(bpf_prog_load(BPF_PROG_TYPE_KPROBE, "ct_audit_risky", "GPL", both, std::size(both),
                          nullptr));
    bool writes = true;
    if (prog.fd < 0) {
        // Lockdown forbids bpf_probe_write_user: keep the signal alone.
        writes = false;
        prog.fd =
            bpf_prog_load(BPF_PROG_TYPE_KPROBE, "ct_audit_risky", "GPL", both + 6, 4, nullptr);
    }
    ASSERT_GE(prog.fd, 0) << errno;
    const unsigned id = prog_id(prog.fd);

    AuditRun report = audit({"--prog", std::to_string(id)});
    EXPECT_EQ(report.err, "");
    const json record = flagged_one(report);
    EXPECT_EQ(record["type"], "kprobe");
    EXPECT_EQ(record["lifetime"], "short-lived");
    EXPECT_EQ(record["findings"], json::array({"risky_helpers"})) << record.dump();
    EXPECT_TRUE(has(record["risky_helpers"], "bpf_send_signal")) << record.dump();
    EXPECT_EQ(has(record["risky_helpers"], "bpf_probe_write_user"), writes) << record.dump();
    EXPECT_TRUE(held_by(record, ::getpid()));

    AuditRun text = audit({"--prog", std::to_string(id)}, false);
    EXPECT_NE(text.out.find("calls     bpf_send_signal (sends signals)"), std::string::npos)
        << text.out;
}

// A process holding a program while its executable is deleted (a copy of sleep, removed once
// it runs) is flagged, with its pid.
TEST(Audit, HolderWhoseExecutableWasDeleted) {
    const fs::path copy = fs::temp_directory_path() / ("coretrace-audit-sleep-" + suffix());
    fs::copy_file("/bin/sleep", copy, fs::copy_options::overwrite_existing);
    Fd prog(load_returning(BPF_PROG_TYPE_SOCKET_FILTER, "ct_audit_del", 0));
    ASSERT_GE(prog.fd, 0) << errno;
    const unsigned id = prog_id(prog.fd);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::dup2(prog.fd, 50); // without O_CLOEXEC: kept across exec
        ::execl(copy.c_str(), "sleep", "30", nullptr);
        _exit(127);
    }
    // Wait for the exec, then delete the binary.
    bool exec_done = false;
    for (int i = 0; i < 500 && !exec_done; ++i) {
        std::error_code ec;
        exec_done = fs::read_symlink("/proc/" + std::to_string(child) + "/exe", ec) == copy;
        if (!exec_done)
            ::usleep(10000);
    }
    fs::remove(copy);
    AuditRun report = audit({"--prog", std::to_string(id)});
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ASSERT_TRUE(exec_done);

    const json record = flagged_one(report);
    EXPECT_EQ(record["findings"], json::array({"exe_deleted"})) << record.dump();
    bool child_flagged = false, self_clean = false;
    for (const auto& holder : record["holders"]) {
        if (holder["pid"] == child)
            child_flagged = holder["exe_deleted"] == true && holder["fd"] == 50;
        if (holder["pid"] == ::getpid())
            self_clean = holder["exe_deleted"] == false;
    }
    EXPECT_TRUE(child_flagged) << record.dump();
    EXPECT_TRUE(self_clean) << record.dump();
}

// A socket filter held by the test and attached nowhere: nothing to look at, exit status 0;
// --all still shows it, short-lived, with its holder.
TEST(Audit, NothingToLookAt) {
    Fd prog(load_returning(BPF_PROG_TYPE_SOCKET_FILTER, "ct_audit_clean", 0));
    ASSERT_GE(prog.fd, 0) << errno;
    const std::string id = std::to_string(prog_id(prog.fd));

    AuditRun quiet = audit({"--prog", id});
    EXPECT_EQ(quiet.code, 0) << quiet.err;
    EXPECT_EQ(quiet.err, ""); // no note: every namespace entered, helper calls named
    EXPECT_TRUE(quiet.records.empty()) << quiet.out;

    AuditRun all = audit({"--prog", id, "--all"});
    EXPECT_EQ(all.code, 0);
    ASSERT_EQ(all.records.size(), 1u) << all.out;
    EXPECT_EQ(all.records[0]["lifetime"], "short-lived");
    EXPECT_TRUE(all.records[0]["findings"].empty());
    EXPECT_TRUE(held_by(all.records[0], ::getpid()));

    AuditRun text = audit({"--prog", id}, false);
    EXPECT_EQ(text.code, 0);
    EXPECT_TRUE(text.out.starts_with("nothing to look at among 1 object audited;")) << text.out;
}

TEST(Audit, BadInputIsOneLine) {
    struct Case {
        std::vector<std::string> args;
        int code;
    };
    for (const Case& c : {Case{{"--prog", "999999999"}, 1}, Case{{"--map", "999999999"}, 1},
                          Case{{"--prog", "0"}, 2}, Case{{"--prog", "x"}, 2}, Case{{"extra"}, 2}}) {
        std::vector<std::string> argv = {coretrace_binary(), "audit"};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        Completed done = run(argv);
        EXPECT_EQ(done.code, c.code) << done.err;
        EXPECT_EQ(done.out, "");
        EXPECT_TRUE(done.err.starts_with("audit: ")) << done.err;
        EXPECT_EQ(std::count(done.err.begin(), done.err.end(), '\n'), 1) << done.err;
    }
}
