// mountsnoop: mount(2), umount(2) and the new mount API calls (fsopen, fsconfig, fsmount,
// move_mount) as they return, libbpf-tools' mountsnoop with its flags and output (one line per
// call, or -d's one line per field), plus --json, -t TID, every filter in the kernel, and a
// count of the records lost.
#include "mountsnoop.skel.h"
#include "mountsnoop.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/log.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/mount.h>
#include <string>
#include <vector>

namespace {

using namespace coretrace;
using namespace std::chrono;

// An entry and an exit tracepoint per call, each its own event with one candidate.
constexpr std::string_view mount_enter[] = {"tp/syscalls/sys_enter_mount"};
constexpr std::string_view mount_exit[] = {"tp/syscalls/sys_exit_mount"};
constexpr std::string_view umount_enter[] = {"tp/syscalls/sys_enter_umount"};
constexpr std::string_view umount_exit[] = {"tp/syscalls/sys_exit_umount"};
constexpr std::string_view fsopen_enter[] = {"tp/syscalls/sys_enter_fsopen"};
constexpr std::string_view fsopen_exit[] = {"tp/syscalls/sys_exit_fsopen"};
constexpr std::string_view fsconfig_enter[] = {"tp/syscalls/sys_enter_fsconfig"};
constexpr std::string_view fsconfig_exit[] = {"tp/syscalls/sys_exit_fsconfig"};
constexpr std::string_view fsmount_enter[] = {"tp/syscalls/sys_enter_fsmount"};
constexpr std::string_view fsmount_exit[] = {"tp/syscalls/sys_exit_fsmount"};
constexpr std::string_view move_mount_enter[] = {"tp/syscalls/sys_enter_move_mount"};
constexpr std::string_view move_mount_exit[] = {"tp/syscalls/sys_exit_move_mount"};
constexpr hooks::EventHooks mountsnoop_hooks[] = {
    {"mount(2) entry", mount_enter},           {"mount(2) exit", mount_exit},
    {"umount(2) entry", umount_enter},         {"umount(2) exit", umount_exit},
    {"fsopen(2) entry", fsopen_enter},         {"fsopen(2) exit", fsopen_exit},
    {"fsconfig(2) entry", fsconfig_enter},     {"fsconfig(2) exit", fsconfig_exit},
    {"fsmount(2) entry", fsmount_enter},       {"fsmount(2) exit", fsmount_exit},
    {"move_mount(2) entry", move_mount_enter}, {"move_mount(2) exit", move_mount_exit},
};
// By enum mountsnoop_op - 1, the order of the table's pairs.
constexpr const char* call_names[] = {"mount",    "umount",  "fsopen",
                                      "fsconfig", "fsmount", "move_mount"};

struct Options {
    CommonOptions common;
    TaskFilter filter;
    bool timestamp = false, detailed = false;
    long duration_s = 0;
};

struct FlagName {
    std::uint64_t value;
    const char* name;
};
#define CT_FLAG(flag)                                                                              \
    FlagName {                                                                                     \
        static_cast<std::uint64_t>(flag), #flag                                                    \
    }

// mount(2) flags, from <linux/mount.h>.
constexpr FlagName mount_flags[] = {
    CT_FLAG(MS_RDONLY),    CT_FLAG(MS_NOSUID),      CT_FLAG(MS_NODEV),
    CT_FLAG(MS_NOEXEC),    CT_FLAG(MS_SYNCHRONOUS), CT_FLAG(MS_REMOUNT),
    CT_FLAG(MS_MANDLOCK),  CT_FLAG(MS_DIRSYNC),     CT_FLAG(MS_NOSYMFOLLOW),
    CT_FLAG(MS_NOATIME),   CT_FLAG(MS_NODIRATIME),  CT_FLAG(MS_BIND),
    CT_FLAG(MS_MOVE),      CT_FLAG(MS_REC),         CT_FLAG(MS_SILENT),
    CT_FLAG(MS_POSIXACL),  CT_FLAG(MS_UNBINDABLE),  CT_FLAG(MS_PRIVATE),
    CT_FLAG(MS_SLAVE),     CT_FLAG(MS_SHARED),      CT_FLAG(MS_RELATIME),
    CT_FLAG(MS_KERNMOUNT), CT_FLAG(MS_I_VERSION),   CT_FLAG(MS_STRICTATIME),
    CT_FLAG(MS_LAZYTIME),  CT_FLAG(MS_SUBMOUNT),    CT_FLAG(MS_NOREMOTELOCK),
    CT_FLAG(MS_NOSEC),     CT_FLAG(MS_BORN),        CT_FLAG(MS_ACTIVE),
    CT_FLAG(MS_NOUSER),
};
// umount2(2) flags: <sys/mount.h> has them, but glibc's header and <linux/mount.h> clash.
constexpr FlagName umount_flags[] = {
    {1, "MNT_FORCE"}, {2, "MNT_DETACH"}, {4, "MNT_EXPIRE"}, {8, "UMOUNT_NOFOLLOW"}};
constexpr FlagName fsopen_flags[] = {CT_FLAG(FSOPEN_CLOEXEC)};
constexpr FlagName fsmount_flags[] = {CT_FLAG(FSMOUNT_CLOEXEC)};
constexpr FlagName attr_flags[] = {CT_FLAG(MOUNT_ATTR_RDONLY),     CT_FLAG(MOUNT_ATTR_NOSUID),
                                   CT_FLAG(MOUNT_ATTR_NODEV),      CT_FLAG(MOUNT_ATTR_NOEXEC),
                                   CT_FLAG(MOUNT_ATTR_NODIRATIME), CT_FLAG(MOUNT_ATTR_IDMAP),
                                   CT_FLAG(MOUNT_ATTR_NOSYMFOLLOW)};
constexpr FlagName move_mount_flags[] = {
    CT_FLAG(MOVE_MOUNT_F_SYMLINKS),   CT_FLAG(MOVE_MOUNT_F_AUTOMOUNTS),
    CT_FLAG(MOVE_MOUNT_F_EMPTY_PATH), CT_FLAG(MOVE_MOUNT_T_SYMLINKS),
    CT_FLAG(MOVE_MOUNT_T_AUTOMOUNTS), CT_FLAG(MOVE_MOUNT_T_EMPTY_PATH),
    {0x100, "MOVE_MOUNT_SET_GROUP"},  {0x200, "MOVE_MOUNT_BENEATH"}};
#undef CT_FLAG
// fsconfig(2) commands by number (enum fsconfig_command).
constexpr const char* fsconfig_commands[] = {
    "FSCONFIG_SET_FLAG",   "FSCONFIG_SET_STRING",      "FSCONFIG_SET_BINARY",
    "FSCONFIG_SET_PATH",   "FSCONFIG_SET_PATH_EMPTY",  "FSCONFIG_SET_FD",
    "FSCONFIG_CMD_CREATE", "FSCONFIG_CMD_RECONFIGURE", "FSCONFIG_CMD_CREATE_EXCL"};

// "MS_NOSUID | MS_NODEV", "0x0" for none; bits no name covers are shown in hex at the end.
std::string flag_names(std::uint64_t flags, std::span<const FlagName> names) {
    if (!flags)
        return "0x0";
    std::string out;
    for (const auto& name : names)
        if (name.value && (flags & name.value) == name.value) {
            out += (out.empty() ? "" : " | ") + std::string(name.name);
            flags &= ~name.value;
        }
    if (flags)
        out += (out.empty() ? "" : " | ") + fmt::format("{:#x}", flags);
    return out;
}

std::string mount_flag_names(std::uint64_t flags) {
    // The old magic number in the top half (MS_MGC_VAL), which the kernel ignores.
    if ((flags & 0xffff0000) == 0xc0ed0000)
        return "MS_MGC_VAL | " + flag_names(flags & 0xffff, mount_flags);
    return flag_names(flags, mount_flags);
}

// fsmount's attribute flags: the access-time setting is a 3-bit field, not flags.
std::string attr_flag_names(std::uint32_t flags) {
    std::string out = flag_names(flags & ~MOUNT_ATTR__ATIME, attr_flags);
    const char* atime = nullptr;
    switch (flags & MOUNT_ATTR__ATIME) {
    case MOUNT_ATTR_RELATIME:
        break;
    case MOUNT_ATTR_NOATIME:
        atime = "MOUNT_ATTR_NOATIME";
        break;
    case MOUNT_ATTR_STRICTATIME:
        atime = "MOUNT_ATTR_STRICTATIME";
        break;
    default:
        atime = "MOUNT_ATTR__ATIME";
    }
    if (!atime)
        return out;
    return out == "0x0" ? atime : out + " | " + atime;
}

std::string fsconfig_command(std::uint32_t cmd) {
    return cmd < std::size(fsconfig_commands) ? fsconfig_commands[cmd] : "UNKNOWN";
}

// The result as libbpf-tools prints it: "0", "-ENOENT", or a file descriptor's number.
std::string result(int ret) {
    if (ret < 0)
        if (const char* name = strerrorname_np(-ret))
            return fmt::format("-{}", name);
    return std::to_string(ret);
}

std::string dfd(int fd) {
    return fd == AT_FDCWD ? "AT_FDCWD" : std::to_string(fd);
}

std::string op_name(const mountsnoop_event& e) {
    return e.op >= 1 && e.op <= std::size(call_names) ? call_names[e.op - 1] : "unknown";
}

// The call as libbpf-tools writes it: mount("src", "target", "type", FLAGS, "data") = 0.
std::string call_text(const mountsnoop_event& e) {
    const std::string source = fixed_string(e.source), target = fixed_string(e.target),
                      fstype = fixed_string(e.fstype), data = fixed_string(e.data),
                      key = fixed_string(e.key), ret = result(e.ret);
    switch (e.op) {
    case MOUNTSNOOP_MOUNT:
        return fmt::format("mount(\"{}\", \"{}\", \"{}\", {}, \"{}\") = {}", source, target, fstype,
                           mount_flag_names(e.flags), data, ret);
    case MOUNTSNOOP_UMOUNT:
        return fmt::format("umount(\"{}\", {}) = {}", target, flag_names(e.flags, umount_flags),
                           ret);
    case MOUNTSNOOP_FSOPEN:
        return fmt::format("fsopen(\"{}\", {}) = {}", fstype, flag_names(e.flags, fsopen_flags),
                           ret);
    case MOUNTSNOOP_FSCONFIG:
        return fmt::format("fsconfig({}, \"{}\", \"{}\", \"{}\", {}) = {}", e.fd,
                           fsconfig_command(e.cmd), key, data, e.aux, ret);
    case MOUNTSNOOP_FSMOUNT:
        return fmt::format("fsmount({}, \"{}\", \"{}\") = {}", e.fd,
                           flag_names(e.flags, fsmount_flags), attr_flag_names(e.attr_flags), ret);
    case MOUNTSNOOP_MOVE_MOUNT:
        return fmt::format("move_mount({}, \"{}\", {}, \"{}\", \"{}\") = {}", e.fd, source,
                           dfd(e.to_dfd), target, flag_names(e.flags, move_mount_flags), ret);
    }
    return "unknown call";
}

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json || options_.detailed)
            return;
        if (options_.timestamp)
            std::printf("%-8s ", "TIME");
        std::printf("%-16s %-7s %-7s %-11s %s\n", "COMM", "PID", "TID", "MNT_NS", "CALL");
        std::fflush(stdout);
    }

    void print(const mountsnoop_event& e) {
        const std::int64_t unix_ns = clock_.unix_ns(e.ts_ns);
        if (options_.common.json) {
            json(e, unix_ns);
            return;
        }
        const std::string comm = fixed_string(e.comm);
        std::string out;
        const char* indent = "";
        if (options_.timestamp) {
            out += clock_time(unix_ns) + " ";
            indent = "    ";
        }
        if (!options_.detailed) {
            out += fmt::format("{:<16} {:<7} {:<7} {:<11} {}\n", comm, e.pid, e.tid, e.mnt_ns,
                               call_text(e));
            std::fputs(out.c_str(), stdout);
            return;
        }
        if (options_.timestamp)
            out += "\n";
        // libbpf-tools' layout: the label and its colon padded to 8 columns (13 for fsmount's
        // fields, 16 for move_mount's).
        auto field = [&](const char* label, const std::string& value, std::size_t width = 8) {
            out += fmt::format("{}{:<{}}{}\n", indent, std::string(label) + ":", width, value);
        };
        std::string op = op_name(e);
        for (auto& c : op)
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        field("PID", std::to_string(e.pid));
        field("TID", std::to_string(e.tid));
        field("COMM", comm);
        field("OP", op);
        field("RET", result(e.ret));
        field("LAT", fmt::format("{}us", e.delta_ns / 1000));
        field("MNT_NS", std::to_string(e.mnt_ns));
        switch (e.op) {
        case MOUNTSNOOP_MOUNT:
            field("FS", fixed_string(e.fstype));
            field("SOURCE", fixed_string(e.source));
            field("TARGET", fixed_string(e.target));
            field("DATA", fixed_string(e.data));
            field("FLAGS", mount_flag_names(e.flags));
            break;
        case MOUNTSNOOP_UMOUNT:
            field("TARGET", fixed_string(e.target));
            field("FLAGS", flag_names(e.flags, umount_flags));
            break;
        case MOUNTSNOOP_FSOPEN:
            field("FS", fixed_string(e.fstype));
            field("FLAGS", flag_names(e.flags, fsopen_flags));
            break;
        case MOUNTSNOOP_FSCONFIG:
            field("FD", std::to_string(e.fd));
            field("CMD", fsconfig_command(e.cmd));
            field("KEY", fixed_string(e.key));
            field("VALUE", fixed_string(e.data));
            break;
        case MOUNTSNOOP_FSMOUNT:
            field("FS_FD", std::to_string(e.fd), 13);
            field("FLAGS", flag_names(e.flags, fsmount_flags), 13);
            field("ATTR_FLAGS", attr_flag_names(e.attr_flags), 13);
            break;
        case MOUNTSNOOP_MOVE_MOUNT:
            field("FROM_DFD", std::to_string(e.fd), 16);
            field("FROM_PATHNAME", fixed_string(e.source), 16);
            field("TO_DFD", std::to_string(e.to_dfd), 16);
            field("TO_PATHNAME", fixed_string(e.target), 16);
            field("FLAGS", flag_names(e.flags, move_mount_flags), 16);
            break;
        }
        out += "\n";
        std::fputs(out.c_str(), stdout);
    }

  private:
    void json(const mountsnoop_event& e, std::int64_t unix_ns) const {
        nlohmann::json record = {{"ts_ns", unix_ns},
                                 {"pid", e.pid},
                                 {"tid", e.tid},
                                 {"comm", fixed_string(e.comm)},
                                 {"mnt_ns", e.mnt_ns},
                                 {"call", op_name(e)},
                                 {"ret", e.ret},
                                 {"errno", e.ret < 0 ? -e.ret : 0},
                                 {"latency_ns", e.delta_ns},
                                 {"truncated", truncated_fields(e.truncated)}};
        switch (e.op) {
        case MOUNTSNOOP_MOUNT:
            record["source"] = fixed_string(e.source);
            record["target"] = fixed_string(e.target);
            record["fstype"] = fixed_string(e.fstype);
            record["data"] = fixed_string(e.data);
            record["flags"] = e.flags;
            record["flag_names"] = mount_flag_names(e.flags);
            break;
        case MOUNTSNOOP_UMOUNT:
            record["target"] = fixed_string(e.target);
            record["flags"] = e.flags;
            record["flag_names"] = flag_names(e.flags, umount_flags);
            break;
        case MOUNTSNOOP_FSOPEN:
            record["fstype"] = fixed_string(e.fstype);
            record["flags"] = e.flags;
            record["flag_names"] = flag_names(e.flags, fsopen_flags);
            break;
        case MOUNTSNOOP_FSCONFIG:
            record["fd"] = e.fd;
            record["cmd"] = e.cmd;
            record["cmd_name"] = fsconfig_command(e.cmd);
            record["key"] = fixed_string(e.key);
            record["value"] = fixed_string(e.data);
            record["aux"] = e.aux;
            break;
        case MOUNTSNOOP_FSMOUNT:
            record["fd"] = e.fd;
            record["flags"] = e.flags;
            record["flag_names"] = flag_names(e.flags, fsmount_flags);
            record["attr_flags"] = e.attr_flags;
            record["attr_flag_names"] = attr_flag_names(e.attr_flags);
            break;
        case MOUNTSNOOP_MOVE_MOUNT:
            record["from_dfd"] = e.fd;
            record["source"] = fixed_string(e.source);
            record["to_dfd"] = e.to_dfd;
            record["target"] = fixed_string(e.target);
            record["flags"] = e.flags;
            record["flag_names"] = flag_names(e.flags, move_mount_flags);
            break;
        }
        write_json_record(record);
    }

    static nlohmann::json truncated_fields(std::uint32_t bits) {
        auto out = nlohmann::json::array();
        const std::pair<std::uint32_t, const char*> fields[] = {{MOUNTSNOOP_SOURCE, "source"},
                                                                {MOUNTSNOOP_TARGET, "target"},
                                                                {MOUNTSNOOP_FSTYPE, "fstype"},
                                                                {MOUNTSNOOP_DATA, "data"},
                                                                {MOUNTSNOOP_KEY, "key"}};
        for (const auto& [bit, name] : fields)
            if (bits & bit)
                out.push_back(name);
        return out;
    }

    const Options& options_;
    KernelClock clock_;
};

// Chooses the tracepoints of one call (entry and exit): both load, or neither. mount and umount
// are required; the new mount API (Linux 5.2+) is traced where the kernel has it.
bool trace_call(bpf_object* object, std::size_t call, bool required) {
    return hooks::prefer_all(object, std::span(mountsnoop_hooks).subspan(2 * call, 2), required);
}

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<mountsnoop_bpf>::open();
    std::string traced;
    for (std::size_t call = 0; call < std::size(call_names); call++)
        if (trace_call(skel.object(), call, call < 2))
            traced += (traced.empty() ? "" : ", ") + std::string(call_names[call]);
    run_events<mountsnoop_event, Printer>(
        skel, options.filter, stop, options.common,
        {fmt::format("Tracing mount syscalls ({})... Hit Ctrl-C to end.", traced),
         seconds(options.duration_s), &skel->bss->args_dropped},
        options);
    return 0;
}

int mountsnoop_main(int argc, char** argv) {
    Options options;
    CLI::App app{"Trace mount, umount, fsopen, fsconfig, fsmount, move_mount syscalls.\n"
                 "Every filter is applied in the kernel.\n\n"
                 "USAGE: mountsnoop [-h] [-t] [-d] [-p PID] [--tid TID] [-v] [--duration SECONDS] "
                 "[--json]\n\n"
                 "EXAMPLES:\n"
                 "    mountsnoop         # trace mount relative syscalls\n"
                 "    mountsnoop -d      # detailed output (one line per column value)\n"
                 "    mountsnoop -p 1216 # only trace PID 1216\n"
                 "    mountsnoop --json  # one JSON object per call, and a summary at the end",
                 "mountsnoop"};
    add_pid_option(app, options.filter);
    add_tid_option(app, options.filter, "--tid", "Thread ID to trace");
    app.add_flag("-t,--timestamp", options.timestamp, "Include timestamp on output");
    app.add_flag("-d,--detailed", options.detailed, "Output result in detail mode");
    app.add_option("--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(mountsnoop, "mount(2), umount(2) and new mount API calls as they return",
               mountsnoop_main, mountsnoop_hooks);
