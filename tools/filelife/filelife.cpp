// filelife: files created and deleted while tracing, with their age, libbpf-tools' filelife with
// its flag and text output, built on system call and ext4 tracepoints (no kprobes), plus --json
// and a count of the records lost.
#include "filelife.skel.h"
#include "filelife.h"

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

#include <fmt/format.h>
#include <string>

namespace {

using namespace coretrace;
using namespace std::chrono;

// The ext4 unlink hook (the inode being unlinked, with its link count on raw_tp), then the
// entry and exit of each creating and deleting system call.
// clang-format off
constexpr std::string_view ext4_unlink[] = {"raw_tp/ext4_unlink_exit", "tp/ext4/ext4_unlink_exit"};
constexpr std::string_view open_enter[] = {"tp/syscalls/sys_enter_open"};
constexpr std::string_view open_exit[] = {"tp/syscalls/sys_exit_open"};
constexpr std::string_view openat_enter[] = {"tp/syscalls/sys_enter_openat"};
constexpr std::string_view openat_exit[] = {"tp/syscalls/sys_exit_openat"};
constexpr std::string_view openat2_enter[] = {"tp/syscalls/sys_enter_openat2"};
constexpr std::string_view openat2_exit[] = {"tp/syscalls/sys_exit_openat2"};
constexpr std::string_view creat_enter[] = {"tp/syscalls/sys_enter_creat"};
constexpr std::string_view creat_exit[] = {"tp/syscalls/sys_exit_creat"};
constexpr std::string_view unlink_enter[] = {"tp/syscalls/sys_enter_unlink"};
constexpr std::string_view unlink_exit[] = {"tp/syscalls/sys_exit_unlink"};
constexpr std::string_view unlinkat_enter[] = {"tp/syscalls/sys_enter_unlinkat"};
constexpr std::string_view unlinkat_exit[] = {"tp/syscalls/sys_exit_unlinkat"};
constexpr hooks::EventHooks filelife_hooks[] = {
    {"ext4 unlink", ext4_unlink, /*optional=*/true},
    {"open(2) entry", open_enter},         {"open(2) exit", open_exit},
    {"openat(2) entry", openat_enter},     {"openat(2) exit", openat_exit},
    {"openat2(2) entry", openat2_enter},   {"openat2(2) exit", openat2_exit},
    {"creat(2) entry", creat_enter},       {"creat(2) exit", creat_exit},
    {"unlink(2) entry", unlink_enter},     {"unlink(2) exit", unlink_exit},
    {"unlinkat(2) entry", unlinkat_enter}, {"unlinkat(2) exit", unlinkat_exit},
};
// clang-format on
constexpr std::size_t first_pair = 1, openat_pair = 3, unlinkat_pair = 11;

struct Options {
    CommonOptions common;
    TaskFilter filter;
    long duration_s = 0;
};

const char* via_name(std::uint32_t via) {
    return via == FILELIFE_VIA_EXT4 ? "ext4" : "syscall";
}

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (!options_.common.json) {
            std::printf("%-8s %-6s %-16s %-7s %s\n", "TIME", "PID", "COMM", "AGE(s)", "FILE");
            std::fflush(stdout);
        }
    }

    void print(const filelife_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::string name = fixed_string(event.name);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);

        if (options_.common.json) {
            write_json_record({{"ts_ns", unix_ns},
                               {"pid", event.pid},
                               {"tid", event.tid},
                               {"comm", comm},
                               {"age_ns", event.age_ns},
                               {"age_s", static_cast<double>(event.age_ns) / 1e9},
                               {"file", name},
                               {"dev", fmt::format("{}:{}", event.dev >> 20, event.dev & 0xfffff)},
                               {"inode", event.ino},
                               {"creator_pid", event.creator_pid},
                               {"via", via_name(event.via)}});
            return;
        }
        std::printf("%-8s %-6u %-16s %-7.2f %s\n", clock_time(unix_ns).c_str(), event.pid,
                    comm.c_str(), static_cast<double>(event.age_ns) / 1e9, name.c_str());
    }

  private:
    const Options& options_;
    KernelClock clock_;
};

// Chooses the entry and exit tracepoints of one system call (filelife_hooks[first] and the one
// after it): both load, or neither. Only openat(2) and unlinkat(2) are required.
bool trace_pair(bpf_object* object, std::size_t first) {
    return hooks::prefer_all(object, std::span(filelife_hooks).subspan(first, 2),
                             first == openat_pair || first == unlinkat_pair);
}

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<filelife_bpf>::open();
    // Without ext4 in this kernel, every deletion is matched at the system call, by path.
    const bool ext4 = hooks::prefer_all(skel.object(), std::span(filelife_hooks).first(1));
    for (std::size_t first = first_pair; first < std::size(filelife_hooks); first += 2)
        trace_pair(skel.object(), first);
    skel->rodata->ext4_hooked = ext4;

    run_events<filelife_event, Printer>(
        skel, options.filter, stop, options.common,
        {"Tracing the lifespan of short-lived files... Hit Ctrl-C to end.",
         seconds(options.duration_s), &skel->bss->calls_dropped},
        options);
    return 0;
}

int filelife_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace the lifespan of short-lived files.\n\n"
        "Built on system call tracepoints and ext4:ext4_unlink_exit (no kprobes). Seen:\n"
        "files created by open/openat/openat2/creat (the open made the file) and then\n"
        "deleted. On ext4 a deletion is matched by inode: any process, any path, after a\n"
        "rename. On other file systems only an unlink(at) of the same path text, from the\n"
        "same directory, as the creating open is matched. Not seen (vfs_create/vfs_unlink\n"
        "kprobes would see them): files made by mknod(2), by the kernel itself (nfsd,\n"
        "overlayfs, ...) or by io_uring, and files removed by a rename over them.\n\n"
        "USAGE: filelife [--help] [-p PID] [-d DURATION] [--json]\n\n"
        "EXAMPLES:\n"
        "    filelife         # trace all events\n"
        "    filelife -p 123  # trace pid 123\n"
        "    filelife --json  # one JSON object per file, and a summary at the end",
        "filelife"};
    add_pid_option(app, options.filter, "Process PID to trace");
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(filelife, "files created and deleted while tracing, with their age", filelife_main,
               filelife_hooks);
