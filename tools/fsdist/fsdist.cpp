// fsdist: latency histograms of one file system type's operations (read, write, open, fsync,
// getattr), libbpf-tools' fsdist with its flags and text output, plus --json, the PID filter in
// the kernel and any file system type. The system call is timed, not the file system's own
// function: see fsdist.bpf.c and docs/fsdist.md.
#include "fsdist.skel.h"
#include "fsdist.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/histogram.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/map.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>

namespace {

using namespace coretrace;

// raw_tp first: one program per direction for every system call, detached in well under a
// millisecond; the classic tracepoint of the same event is the fallback.
constexpr std::string_view enter_sections[] = {"raw_tp/sys_enter", "tp/raw_syscalls/sys_enter"};
constexpr std::string_view exit_sections[] = {"raw_tp/sys_exit", "tp/raw_syscalls/sys_exit"};
constexpr hooks::EventHooks fsdist_hooks[] = {{"system call entry", enter_sections},
                                              {"system call exit", exit_sections}};

constexpr const char* op_names[FSDIST_OPS] = {"read", "write", "open", "fsync", "getattr"};

struct Options {
    CommonOptions common;
    std::string fs;
    bool milliseconds = false;
    TaskFilter filter;
    Pacing pacing;
};

// The type must be one the kernel knows (/proc/filesystems), so a typo is an error, not silence.
void require_known_fs(const std::string& fs) {
    std::ifstream in("/proc/filesystems");
    for (std::string line; std::getline(in, line);)
        if (line.substr(line.find('\t') + 1) == fs)
            return;
    throw Error(fmt::format("unknown file system type '{}' (see /proc/filesystems)", fs));
}

void report(const Options& options, HashMap<std::uint32_t, fsdist_hist>& hists) {
    const char* unit = options.milliseconds ? "msecs" : "usecs";
    auto items = hists.take();
    std::sort(items.begin(), items.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });

    if (options.common.json) {
        auto operations = nlohmann::json::array();
        for (const auto& [op, hist] : items) {
            if (op >= FSDIST_OPS)
                continue;
            operations.push_back({{"operation", op_names[op]},
                                  {"count", hist_total(hist.slots)},
                                  {"buckets", log2_hist_json(hist.slots, unit)}});
        }
        emit_json_line(nlohmann::json{{"time_unix_ns", unix_time_ns()},
                                      {"fs", options.fs},
                                      {"unit", unit},
                                      {"operations", std::move(operations)}}
                           .dump());
        return;
    }
    std::string out = report_heading(options.common.timestamp);
    for (const auto& [op, hist] : items) {
        if (op >= FSDIST_OPS || hist_total(hist.slots) == 0)
            continue;
        out += fmt::format("operation = '{}'\n", op_names[op]);
        out += format_log2_hist(hist.slots, unit);
        out += "\n";
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(Options& options) {
    sys::require_bpf_privileges();
    require_known_fs(options.fs);
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<fsdist_bpf>::open();
    hooks::prefer(skel.object(), fsdist_hooks[0]);
    hooks::prefer(skel.object(), fsdist_hooks[1]);
    options.filter.configure(skel->rodata);
    std::memcpy(const_cast<char*>(skel->rodata->targ_fs), options.fs.data(), options.fs.size());
    skel->rodata->targ_fs_len = static_cast<__u32>(options.fs.size());
    skel->rodata->targ_ms = options.milliseconds;
    skel.load();
    HashMap<std::uint32_t, fsdist_hist> hists(skel->maps.hists);
    skel.attach();

    announce(options.common,
             fmt::format("Tracing {} operation latency... Hit Ctrl-C to end.", options.fs));
    options.pacing.run(stop, [&] { report(options, hists); });
    if (skel->bss->calls_dropped)
        std::fprintf(stderr, "%llu calls not followed (start map full)\n",
                     static_cast<unsigned long long>(skel->bss->calls_dropped));
    return 0;
}

int fsdist_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Summarize file system operations latency.\n\n"
        "The system call is timed, from entry to return, and kept when the descriptor's file is\n"
        "on the file system type given by -t: read (read, pread64, readv, preadv, preadv2),\n"
        "write (their write counterparts), open (open, openat, openat2), fsync (fsync,\n"
        "fdatasync) and getattr (fstat, and newfstatat/statx on a descriptor with AT_EMPTY_PATH).\n"
        "Unlike libbpf-tools' fsdist, which times the file system's own functions with fentry\n"
        "or kprobes, this includes the VFS and page cache time around them; a stat by path,\n"
        "mmap page faults, sendfile, splice, copy_file_range, io_uring and aio are not seen.\n\n"
        "USAGE: fsdist [-h] -t FS [-T] [-m] [-p PID] [--json] [interval] [count]\n\n"
        "EXAMPLES:\n"
        "    fsdist -t ext4             # show ext4 operations latency as a histogram\n"
        "    fsdist -t nfs -p 1216      # trace nfs operations with PID 1216 only\n"
        "    fsdist -t xfs 1 10         # trace xfs operations, 1s summaries, 10 times\n"
        "    fsdist -t btrfs -m 5       # trace btrfs operation, 5s summaries, in ms\n"
        "    fsdist -t ext4 --json 1 5  # five 1-second summaries as JSON Lines",
        "fsdist"};
    app.add_flag("-m,--milliseconds", options.milliseconds, "Millisecond histogram");
    add_pid_option(app, options.filter);
    app.add_option("-t,--type", options.fs,
                   "Which filesystem to trace (btrfs, ext4, nfs, xfs, or any type in "
                   "/proc/filesystems)")
        ->required()
        ->check(bounded_text(FSDIST_FS_MAX, "a file system type name"));
    add_common_options(app, options.common, true);
    add_pacing_options(app, options.pacing);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(fsdist, "latency of one file system type's operations as histograms", fsdist_main,
               fsdist_hooks);
