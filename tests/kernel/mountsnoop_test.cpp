// mountsnoop on the real kernel: a child enters a mount namespace of its own (so nothing it
// mounts is ever seen by, or left in, the host's), makes its root private, mounts a tmpfs on a
// directory of the test's and unmounts it, with the old and the new mount API; mountsnoop must
// report exactly those calls with their arguments and results.
#include "scratch_dir.hpp"
#include "tool_run.hpp"

#include <csignal>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

using namespace coretrace::test;
using nlohmann::json;

namespace {

constexpr const char* tmpfs_source = "ct-mountsnoop-src";
constexpr const char* tmpfs_data = "size=1m,mode=700";

// In the child: a mount namespace of its own whose mounts do not propagate anywhere. Exits with
// status 77 when that is not possible (then nothing else is done).
void private_namespace() {
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::syscall(SYS_mount, nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        ::_exit(77);
}

ino_t mount_namespace(pid_t pid) {
    struct stat st {};
    ::stat(("/proc/" + std::to_string(pid) + "/ns/mnt").c_str(), &st);
    return st.st_ino;
}

// True when the child is in a mount namespace other than ours (unshare worked).
bool in_own_namespace(const Child& child) {
    return mount_namespace(child.pid()) != mount_namespace(::getpid());
}

void expect_common(const json& r, const Child& child, ino_t ns) {
    EXPECT_EQ(r["pid"], child.pid()) << r.dump();
    EXPECT_EQ(r["tid"], child.pid()) << r.dump();
    EXPECT_EQ(r["comm"], "kernel_tests") << r.dump();
    EXPECT_EQ(r["mnt_ns"], ns) << r.dump();
    EXPECT_TRUE(r["truncated"].empty()) << r.dump();
    EXPECT_GT(r["ts_ns"].get<std::int64_t>(), 0);
}

} // namespace

// mount(2) and umount(2): the private root, the tmpfs with its source, target, type, flags and
// data, a mount that fails (-ENOENT), and the unmount.
TEST(Mountsnoop, MountAndUmountInAPrivateNamespace) {
    ScratchDir dir("mountsnoop");
    const std::string target = dir.path(), missing = dir / "missing";
    Child child([&] {
        private_namespace();
        ::syscall(SYS_mount, tmpfs_source, target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                  tmpfs_data);
        ::syscall(SYS_mount, tmpfs_source, missing.c_str(), "tmpfs", 0, nullptr);
        ::syscall(SYS_umount2, target.c_str(), 0);
    });
    ToolRun run =
        run_around({"mountsnoop", "--json", "-p", std::to_string(child.pid())}, let_run({&child}));
    if (!in_own_namespace(child))
        GTEST_SKIP() << "unshare(CLONE_NEWNS) is not allowed here";
    const ino_t ns = mount_namespace(child.pid());
    auto records = event_records(run);
    ASSERT_EQ(records.size(), 4u);
    for (const auto& r : records)
        expect_common(r, child, ns);

    EXPECT_EQ(records[0]["call"], "mount");
    EXPECT_EQ(records[0]["target"], "/");
    EXPECT_EQ(records[0]["source"], "");
    EXPECT_EQ(records[0]["fstype"], "");
    EXPECT_EQ(records[0]["flags"], MS_REC | MS_PRIVATE);
    EXPECT_EQ(records[0]["flag_names"], "MS_REC | MS_PRIVATE");
    EXPECT_EQ(records[0]["ret"], 0);

    EXPECT_EQ(records[1]["call"], "mount");
    EXPECT_EQ(records[1]["source"], tmpfs_source);
    EXPECT_EQ(records[1]["target"], target);
    EXPECT_EQ(records[1]["fstype"], "tmpfs");
    EXPECT_EQ(records[1]["data"], tmpfs_data);
    EXPECT_EQ(records[1]["flags"], MS_NOSUID | MS_NODEV);
    EXPECT_EQ(records[1]["flag_names"], "MS_NOSUID | MS_NODEV");
    EXPECT_EQ(records[1]["ret"], 0);
    EXPECT_EQ(records[1]["errno"], 0);
    EXPECT_GT(records[1]["latency_ns"].get<std::uint64_t>(), 0u);

    EXPECT_EQ(records[2]["call"], "mount");
    EXPECT_EQ(records[2]["target"], missing);
    EXPECT_EQ(records[2]["ret"], -ENOENT);
    EXPECT_EQ(records[2]["errno"], ENOENT);
    EXPECT_EQ(records[2]["data"], ""); // a NULL pointer: empty, not garbage

    EXPECT_EQ(records[3]["call"], "umount");
    EXPECT_EQ(records[3]["target"], target);
    EXPECT_EQ(records[3]["flags"], 0);
    EXPECT_EQ(records[3]["ret"], 0);
}

// The new mount API: fsopen, fsconfig (a string and a command), fsmount, move_mount, then an
// unmount with MNT_DETACH.
TEST(Mountsnoop, NewMountApi) {
    ScratchDir dir("mountsnoop");
    const std::string target = dir.path();
    Child child([&] {
        private_namespace();
        long fs = ::syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
        ::syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "1m", 0);
        ::syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0);
        long mnt = ::syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
        ::syscall(SYS_move_mount, mnt, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH);
        ::syscall(SYS_umount2, target.c_str(), 2 /* MNT_DETACH */);
        ::close(static_cast<int>(mnt));
        ::close(static_cast<int>(fs));
    });
    ToolRun run =
        run_around({"mountsnoop", "--json", "-p", std::to_string(child.pid())}, let_run({&child}));
    if (!in_own_namespace(child))
        GTEST_SKIP() << "unshare(CLONE_NEWNS) is not allowed here";
    auto records = event_records(run);
    ASSERT_EQ(records.size(), 7u); // the private root's mount first
    const ino_t ns = mount_namespace(child.pid());
    for (const auto& r : records)
        expect_common(r, child, ns);
    const json& fsopen = records[1];
    EXPECT_EQ(fsopen["call"], "fsopen");
    EXPECT_EQ(fsopen["fstype"], "tmpfs");
    EXPECT_EQ(fsopen["flag_names"], "FSOPEN_CLOEXEC");
    const int fs = fsopen["ret"];
    ASSERT_GE(fs, 0);
    EXPECT_EQ(records[2]["call"], "fsconfig");
    EXPECT_EQ(records[2]["fd"], fs);
    EXPECT_EQ(records[2]["cmd_name"], "FSCONFIG_SET_STRING");
    EXPECT_EQ(records[2]["key"], "size");
    EXPECT_EQ(records[2]["value"], "1m");
    EXPECT_EQ(records[2]["ret"], 0);
    EXPECT_EQ(records[3]["cmd_name"], "FSCONFIG_CMD_CREATE");
    EXPECT_EQ(records[3]["key"], "");
    EXPECT_EQ(records[3]["ret"], 0);
    const json& fsmount = records[4];
    EXPECT_EQ(fsmount["call"], "fsmount");
    EXPECT_EQ(fsmount["fd"], fs);
    EXPECT_EQ(fsmount["flag_names"], "FSMOUNT_CLOEXEC");
    EXPECT_EQ(fsmount["attr_flag_names"], "MOUNT_ATTR_NODEV");
    const int mnt = fsmount["ret"];
    ASSERT_GE(mnt, 0);
    const json& move = records[5];
    EXPECT_EQ(move["call"], "move_mount");
    EXPECT_EQ(move["from_dfd"], mnt);
    EXPECT_EQ(move["source"], "");
    EXPECT_EQ(move["to_dfd"], AT_FDCWD);
    EXPECT_EQ(move["target"], target);
    EXPECT_EQ(move["flag_names"], "MOVE_MOUNT_F_EMPTY_PATH");
    EXPECT_EQ(move["ret"], 0);
    EXPECT_EQ(records[6]["call"], "umount");
    EXPECT_EQ(records[6]["flag_names"], "MNT_DETACH");
    EXPECT_EQ(records[6]["ret"], 0);
}

// libbpf-tools' line (COMM PID TID MNT_NS CALL) and -d's one line per field.
TEST(Mountsnoop, TextAndDetailedOutput) {
    ScratchDir dir("mountsnoop");
    const std::string target = dir.path();
    auto work = [&] {
        private_namespace();
        ::syscall(SYS_mount, tmpfs_source, target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                  tmpfs_data);
        ::syscall(SYS_umount2, target.c_str(), 0);
    };
    for (bool detailed : {false, true}) {
        Child child(work);
        std::vector<std::string> args = {"mountsnoop", "-p", std::to_string(child.pid())};
        if (detailed)
            args.push_back("-d");
        ToolRun run = run_around(args, let_run({&child}));
        if (!in_own_namespace(child))
            GTEST_SKIP() << "unshare(CLONE_NEWNS) is not allowed here";
        const std::string ns = std::to_string(mount_namespace(child.pid()));
        const std::string& out = run.out;
        if (!detailed) {
            EXPECT_NE(out.find("COMM             PID     TID     MNT_NS      CALL\n"),
                      std::string::npos)
                << out;
            char line[1024];
            std::snprintf(line, sizeof(line),
                          "%-16s %-7d %-7d %-11s mount(\"%s\", \"%s\", \"tmpfs\", MS_NOSUID | "
                          "MS_NODEV, \"%s\") = 0\n",
                          "kernel_tests", child.pid(), child.pid(), ns.c_str(), tmpfs_source,
                          target.c_str(), tmpfs_data);
            EXPECT_NE(out.find(line), std::string::npos) << out;
            std::snprintf(line, sizeof(line), " umount(\"%s\", 0x0) = 0\n", target.c_str());
            EXPECT_NE(out.find(line), std::string::npos) << out;
        } else {
            for (const std::string& expected :
                 {"PID:    " + std::to_string(child.pid()) + "\n", std::string("OP:     MOUNT\n"),
                  std::string("RET:    0\n"), std::string("FS:     tmpfs\n"),
                  "SOURCE: " + std::string(tmpfs_source) + "\n", "TARGET: " + target + "\n",
                  "DATA:   " + std::string(tmpfs_data) + "\n",
                  std::string("FLAGS:  MS_NOSUID | MS_NODEV\n"), "MNT_NS: " + ns + "\n",
                  std::string("OP:     UMOUNT\n")})
                EXPECT_NE(out.find(expected), std::string::npos) << expected << out;
        }
    }
}

TEST(Mountsnoop, BadInput) {
    expect_refused({"mountsnoop", "-p", "999999999"}, 1);
}

TEST(Mountsnoop, NothingRemainsAfterSighup) {
    expect_cleanup({"mountsnoop", "-p", "1"}, SIGHUP, 4);
}

TEST(Mountsnoop, NothingRemainsAfterDuration) {
    expect_cleanup({"mountsnoop", "--json", "--duration", "1"}, 0, 4);
}
