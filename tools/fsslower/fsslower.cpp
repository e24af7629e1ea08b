// fsslower: file system calls slower than a threshold on one file system type, libbpf-tools'
// fsslower with its flags and text (and CSV) output, plus --json, the PID filter in the kernel,
// any file system type, and a count of the records lost. The system call is timed, not the file
// system's own function: see fsslower.bpf.c and docs/fsslower.md.
#include "fsslower.skel.h"
#include "fsslower.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <string>

namespace {

using namespace coretrace;
using namespace std::chrono;

// raw_tp first: one program per direction for every system call, detached in well under a
// millisecond; the classic tracepoint of the same event is the fallback.
constexpr std::string_view enter_sections[] = {"raw_tp/sys_enter", "tp/raw_syscalls/sys_enter"};
constexpr std::string_view exit_sections[] = {"raw_tp/sys_exit", "tp/raw_syscalls/sys_exit"};
constexpr hooks::EventHooks fsslower_hooks[] = {{"system call entry", enter_sections},
                                                {"system call exit", exit_sections}};

struct Options {
    CommonOptions common;
    std::string fs;
    long min_ms = 10;
    TaskFilter filter;
    long duration_s = 0;
    bool csv = false;
};

// -m: 0 is allowed (every call), as in libbpf-tools.
const CLI::Validator milliseconds(
    [](std::string& text) -> std::string {
        long value = -1;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || end != text.data() + text.size() || value < 0 ||
            value > 1000000000)
            return fmt::format("must be an integer from 0 to 1000000000, not '{}'", text);
        return {};
    },
    "MS");

// The type must be one the kernel knows (/proc/filesystems), so a typo is an error, not silence.
void require_fs_type(const std::string& fs) {
    std::ifstream in("/proc/filesystems");
    for (std::string line; std::getline(in, line);)
        if (line.substr(line.find('\t') + 1) == fs)
            return;
    throw Error(fmt::format("unknown file system type '{}' (see /proc/filesystems)", fs));
}

constexpr char op_letters[] = {'R', 'W', 'O', 'F'};
constexpr const char* op_names[] = {"read", "write", "open", "fsync"};

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.csv)
            std::printf("ENDTIME_ns,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE\n");
        else
            std::printf("%-8s %-16s %-7s %1s %-7s %-8s %7s %s\n", "TIME", "COMM", "PID", "T",
                        "BYTES", "OFF_KB", "LAT(ms)", "FILENAME");
        std::fflush(stdout);
    }

    void print(const fsslower_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::string file = fixed_string(event.file);
        const std::int64_t unix_ns = clock_.unix_ns(event.end_ns);
        const bool whole = event.size == FSSLOWER_WHOLE_FILE;
        const unsigned op = event.op < 4 ? event.op : 0;

        if (options_.common.json) {
            write_json_record({{"ts_ns", unix_ns},
                               {"pid", event.pid},
                               {"tid", event.tid},
                               {"comm", comm},
                               {"op", std::string(1, op_letters[op])},
                               {"operation", op_names[op]},
                               {"bytes", whole ? nlohmann::json() : nlohmann::json(event.size)},
                               {"offset", event.offset},
                               {"latency_ns", event.delta_ns},
                               {"file", file},
                               {"file_truncated", event.name_truncated != 0},
                               {"fs", options_.fs}});
            return;
        }
        const std::string bytes = whole ? "LL_MAX" : std::to_string(event.size);
        if (options_.csv) {
            std::printf("%lld,%s,%u,%c,%s,%lld,%llu,%s\n", static_cast<long long>(unix_ns),
                        comm.c_str(), event.pid, op_letters[op], bytes.c_str(),
                        static_cast<long long>(event.offset),
                        static_cast<unsigned long long>(event.delta_ns / 1000), file.c_str());
            return;
        }
        std::printf("%-8s %-16s %-7u %c %-7s %-8lld %7.2f %s\n", clock_time(unix_ns).c_str(),
                    comm.c_str(), event.pid, op_letters[op], bytes.c_str(),
                    static_cast<long long>(event.offset / 1024),
                    static_cast<double>(event.delta_ns) / 1e6, file.c_str());
    }

  private:
    const Options& options_;
    KernelClock clock_;
};

int run(Options& options) {
    sys::require_bpf_privileges();
    require_fs_type(options.fs);
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<fsslower_bpf>::open();
    hooks::prefer(skel.object(), fsslower_hooks[0]);
    hooks::prefer(skel.object(), fsslower_hooks[1]);
    options.filter.configure(skel->rodata);
    std::memcpy(const_cast<char*>(skel->rodata->targ_fs), options.fs.data(), options.fs.size());
    skel->rodata->targ_fs_len = static_cast<__u32>(options.fs.size());
    skel->rodata->min_ns = static_cast<__u64>(options.min_ms) * 1000000;
    EventStream::prepare(skel);
    skel.load();

    Printer printer(options);
    auto stream = EventStream::of<fsslower_event>(
        skel, [&printer](const fsslower_event& event) { printer.print(event); });
    skel.attach();

    std::string banner = fmt::format("Tracing {} operations", options.fs);
    if (options.min_ms)
        banner += fmt::format(" slower than {} ms", options.min_ms);
    if (options.csv) {
        CommonOptions quiet = options.common;
        quiet.json = true; // the banner goes to stderr: stdout is CSV only
        announce(quiet, banner + "... Hit Ctrl-C to end.");
    } else {
        announce(options.common, banner + "... Hit Ctrl-C to end.");
    }
    printer.header();

    pump_events(*stream, stop, seconds(options.duration_s));
    skel.detach();
    finish_events(*stream, options.common, skel->bss->calls_dropped);
    return 0;
}

int fsslower_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace file system operations slower than a threshold.\n\n"
        "The system call is timed (read, pread64, readv, preadv, preadv2 as R; their write\n"
        "counterparts as W; open, openat, openat2 as O; fsync, fdatasync as F), from entry to\n"
        "return, and kept when the descriptor's file is on the file system type given by -t.\n"
        "Unlike libbpf-tools' fsslower, which times the file system's own functions with\n"
        "fentry or kprobes, this includes the VFS and page cache time around them, and does not\n"
        "see file system work reached otherwise (mmap page faults, sendfile, splice,\n"
        "copy_file_range, io_uring, aio). A failed open is not reported.\n\n"
        "USAGE: fsslower [-h] -t FS [-p PID] [-m MIN] [-d DURATION] [-c] [--json]\n\n"
        "EXAMPLES:\n"
        "    fsslower -t ext4             # trace ext4 operations slower than 10 ms\n"
        "    fsslower -t nfs -p 1216      # trace nfs operations with PID 1216 only\n"
        "    fsslower -t xfs -c -d 1      # trace xfs operations for 1s with csv output\n"
        "    fsslower -t ext4 -m 0 --json # every ext4 operation, one JSON object each",
        "fsslower"};
    app.add_flag("-c,--csv", options.csv, "Output as csv");
    app.add_option("-d,--duration", options.duration_s, "Total duration of trace in seconds")
        ->check(positive_integer);
    app.add_option("-m,--min", options.min_ms, "Min latency to trace, in ms (default 10)")
        ->check(milliseconds);
    add_pid_option(app, options.filter);
    app.add_option("-t,--type", options.fs,
                   "Which filesystem to trace (btrfs, ext4, nfs, xfs, or any type in "
                   "/proc/filesystems)")
        ->required()
        ->check(bounded_text(FSSLOWER_FS_MAX, "a file system type name"));
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(fsslower, "file system operations slower than a threshold", fsslower_main,
               fsslower_hooks);
