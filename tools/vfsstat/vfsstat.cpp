// vfsstat: per-second counts of file system operations, libbpf-tools' vfsstat with its columns
// and [interval] [count], counted at system call tracepoints (no kprobes), plus -p, -c and
// --json.
#include "vfsstat.skel.h"
#include "vfsstat.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/log.hpp"
#include "coretrace/map.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace {

using namespace coretrace;

// One tracepoint per system call and direction; each is an event with a single candidate.
// clang-format off
constexpr std::string_view read_enter[] = {"tp/syscalls/sys_enter_read"};
constexpr std::string_view readv_enter[] = {"tp/syscalls/sys_enter_readv"};
constexpr std::string_view pread64_enter[] = {"tp/syscalls/sys_enter_pread64"};
constexpr std::string_view preadv_enter[] = {"tp/syscalls/sys_enter_preadv"};
constexpr std::string_view preadv2_enter[] = {"tp/syscalls/sys_enter_preadv2"};
constexpr std::string_view write_enter[] = {"tp/syscalls/sys_enter_write"};
constexpr std::string_view writev_enter[] = {"tp/syscalls/sys_enter_writev"};
constexpr std::string_view pwrite64_enter[] = {"tp/syscalls/sys_enter_pwrite64"};
constexpr std::string_view pwritev_enter[] = {"tp/syscalls/sys_enter_pwritev"};
constexpr std::string_view pwritev2_enter[] = {"tp/syscalls/sys_enter_pwritev2"};
constexpr std::string_view fsync_enter[] = {"tp/syscalls/sys_enter_fsync"};
constexpr std::string_view fdatasync_enter[] = {"tp/syscalls/sys_enter_fdatasync"};
constexpr std::string_view open_exit[] = {"tp/syscalls/sys_exit_open"};
constexpr std::string_view openat_exit[] = {"tp/syscalls/sys_exit_openat"};
constexpr std::string_view openat2_exit[] = {"tp/syscalls/sys_exit_openat2"};
constexpr std::string_view creat_exit[] = {"tp/syscalls/sys_exit_creat"};
constexpr std::string_view by_handle_exit[] = {"tp/syscalls/sys_exit_open_by_handle_at"};
constexpr std::string_view unlink_exit[] = {"tp/syscalls/sys_exit_unlink"};
constexpr std::string_view unlinkat_enter[] = {"tp/syscalls/sys_enter_unlinkat"};
constexpr std::string_view unlinkat_exit[] = {"tp/syscalls/sys_exit_unlinkat"};
constexpr std::string_view mkdir_exit[] = {"tp/syscalls/sys_exit_mkdir"};
constexpr std::string_view mkdirat_exit[] = {"tp/syscalls/sys_exit_mkdirat"};
constexpr std::string_view rmdir_exit[] = {"tp/syscalls/sys_exit_rmdir"};
constexpr std::string_view mknod_enter[] = {"tp/syscalls/sys_enter_mknod"};
constexpr std::string_view mknod_exit[] = {"tp/syscalls/sys_exit_mknod"};
constexpr std::string_view mknodat_enter[] = {"tp/syscalls/sys_enter_mknodat"};
constexpr std::string_view mknodat_exit[] = {"tp/syscalls/sys_exit_mknodat"};

// Grouped by system call: the entries of one group load together or not at all. The first
// group of each column that has one is required (read, write, openat).
constexpr hooks::EventHooks vfsstat_hooks[] = {
    {"read(2) entry", read_enter},
    {"readv(2) entry", readv_enter},
    {"pread64(2) entry", pread64_enter},
    {"preadv(2) entry", preadv_enter},
    {"preadv2(2) entry", preadv2_enter},
    {"write(2) entry", write_enter},
    {"writev(2) entry", writev_enter},
    {"pwrite64(2) entry", pwrite64_enter},
    {"pwritev(2) entry", pwritev_enter},
    {"pwritev2(2) entry", pwritev2_enter},
    {"fsync(2) entry", fsync_enter},
    {"fdatasync(2) entry", fdatasync_enter},
    {"open(2) exit", open_exit},
    {"openat(2) exit", openat_exit},
    {"openat2(2) exit", openat2_exit},
    {"creat(2) exit", creat_exit},
    {"open_by_handle_at(2) exit", by_handle_exit},
    {"unlink(2) exit", unlink_exit},
    {"unlinkat(2) entry", unlinkat_enter},
    {"unlinkat(2) exit", unlinkat_exit},
    {"mkdir(2) exit", mkdir_exit},
    {"mkdirat(2) exit", mkdirat_exit},
    {"rmdir(2) exit", rmdir_exit},
    {"mknod(2) entry", mknod_enter},
    {"mknod(2) exit", mknod_exit},
    {"mknodat(2) entry", mknodat_enter},
    {"mknodat(2) exit", mknodat_exit},
};
// clang-format on

// Indices into vfsstat_hooks of the events that go in pairs (entry, exit).
constexpr std::size_t paired[] = {18, 23, 25};
constexpr std::size_t required[] = {0, 5, 13};

constexpr std::array<const char*, VFSSTAT_MAX> column_names = {
    "READ", "WRITE", "FSYNC", "OPEN", "CREATE", "UNLINK", "MKDIR", "RMDIR"};
constexpr std::array<const char*, VFSSTAT_MAX> json_names = {"read",   "write",  "fsync", "open",
                                                             "create", "unlink", "mkdir", "rmdir"};

using Counts = std::array<std::uint64_t, VFSSTAT_MAX>;

struct Options {
    CommonOptions common;
    TaskFilter filter;
    Pacing pacing{std::chrono::seconds(1), {}};
};

// Loads every tracepoint this kernel has; a missing optional system call (open(2), creat(2),
// ... are absent on arm64) is left out, with its partner for an entry/exit pair.
std::vector<std::string> choose_hooks(bpf_object* object) {
    std::vector<std::string> missing;
    auto is = [](const auto& list, std::size_t i) {
        return std::find(std::begin(list), std::end(list), i) != std::end(list);
    };
    for (std::size_t i = 0; i < std::size(vfsstat_hooks); i++) {
        const bool pair = is(paired, i);
        if (!hooks::prefer_all(object, std::span(vfsstat_hooks).subspan(i, pair ? 2 : 1),
                               is(required, i)))
            missing.emplace_back(vfsstat_hooks[i].event);
        if (pair)
            i++;
    }
    return missing;
}

// Sums of the per-CPU counters since load.
Counts read_counts(PerCpuArrayMap<std::uint64_t>& map) {
    Counts totals{};
    for (std::uint32_t stat = 0; stat < VFSSTAT_MAX; stat++)
        if (auto per_cpu = map.lookup(stat))
            for (std::uint64_t value : *per_cpu)
                totals[stat] += value;
    return totals;
}

void print_header() {
    std::string line = fmt::format("{:<8}  ", "TIME");
    for (const char* name : column_names)
        line += fmt::format(" {:>6}/s", name);
    std::puts(line.c_str());
    std::fflush(stdout);
}

// `elapsed`: the seconds the counts cover (the interval, or less for the last one after Ctrl-C).
void report(const Options& options, const Counts& delta, double elapsed) {
    if (options.common.json) {
        nlohmann::json counts, rates;
        for (std::size_t i = 0; i < VFSSTAT_MAX; i++) {
            counts[json_names[i]] = delta[i];
            rates[json_names[i]] = static_cast<double>(delta[i]) / elapsed;
        }
        emit_json_line(nlohmann::json{{"time_unix_ns", unix_time_ns()},
                                      {"elapsed_s", elapsed},
                                      {"counts", std::move(counts)},
                                      {"per_second", std::move(rates)}}
                           .dump());
        return;
    }
    // As libbpf-tools: whole counts per second, divided by whole seconds (at least 1).
    const auto seconds = static_cast<std::uint64_t>(std::max(1.0, std::round(elapsed)));
    std::string line = fmt::format("{:<8}: ", clock_time());
    for (std::uint64_t value : delta)
        line += fmt::format(" {:>8}", value / seconds);
    std::puts(line.c_str());
    std::fflush(stdout);
}

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<vfsstat_bpf>::open();
    auto missing = choose_hooks(skel.object());
    options.filter.configure(skel->rodata);
    skel.load();
    options.filter.install(skel->maps.ct_cgroup_filter);
    PerCpuArrayMap<std::uint64_t> counts(skel->maps.counts);
    skel.attach();

    announce(options.common, "Tracing VFS calls (at system calls)... Hit Ctrl-C to end.");
    if (!options.common.json)
        print_header();

    Counts previous{};
    auto started = std::chrono::steady_clock::now();
    options.pacing.run(stop, [&] {
        Counts now = read_counts(counts), delta{};
        for (std::size_t i = 0; i < VFSSTAT_MAX; i++)
            delta[i] = now[i] - previous[i];
        previous = now;
        auto now_time = std::chrono::steady_clock::now();
        std::chrono::duration<double> elapsed = now_time - started;
        started = now_time;
        report(options, delta, elapsed.count());
    });
    if (skel->bss->pending_dropped)
        std::fprintf(stderr, "%llu calls not counted (pending map full)\n",
                     static_cast<unsigned long long>(skel->bss->pending_dropped));
    return 0;
}

int vfsstat_main(int argc, char** argv) {
    Options options;
    CLI::App app{"vfsstat: Count some VFS calls, at the system calls that make them.\n\n"
                 "Columns count system calls (no kprobes): READ = read, readv, pread64, preadv,\n"
                 "preadv2 calls; WRITE = write, writev, pwrite64, pwritev, pwritev2 calls;\n"
                 "FSYNC = fsync, fdatasync calls; OPEN = successful open, openat, openat2,\n"
                 "creat, open_by_handle_at; CREATE = those that created their file, and\n"
                 "successful mknod of a regular file; UNLINK, MKDIR, RMDIR = successful\n"
                 "unlink(at), mkdir(at), rmdir / unlinkat(AT_REMOVEDIR). Not seen (a vfs_*\n"
                 "kprobe would count them): I/O by the kernel itself (nfsd, overlayfs, loop,\n"
                 "io_uring), sendfile/splice/copy_file_range, msync, and vfs_create/vfs_unlink\n"
                 "on behalf of other paths (rename over a file, O_TMPFILE linking).\n\n"
                 "USAGE: vfsstat [-p PID] [-c CG] [--json] [interval [count]]\n\n"
                 "EXAMPLES:\n"
                 "    vfsstat          # interval one second\n"
                 "    vfsstat 5 3      # interval five seconds, three output lines\n"
                 "    vfsstat -p 185   # only calls made by PID 185\n"
                 "    vfsstat --json 1 5  # five 1-second counts as JSON Lines",
                 "vfsstat"};
    add_pid_option(app, options.filter, "Count this process only");
    add_cgroup_option(app, options.filter, "Count processes in this cgroup v2 path only");
    add_common_options(app, options.common, false);
    add_pacing_options(app, options.pacing, "Output interval, in seconds (default 1)");
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(vfsstat, "counts of file system calls per second (read, write, open, ...)",
               vfsstat_main, vfsstat_hooks);
