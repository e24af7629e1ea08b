// filetop: the files read and written most, per thread, refreshed every interval: libbpf-tools'
// filetop with its flags and columns, counted at system call tracepoints (no kprobes), plus
// --json.
#include "filetop.skel.h"
#include "filetop.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/log.hpp"
#include "coretrace/map.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>

namespace {

using namespace coretrace;

// Entry and exit of each system call of the read and write families, one candidate each.
// clang-format off
constexpr std::string_view read_enter[] = {"tp/syscalls/sys_enter_read"};
constexpr std::string_view read_exit[] = {"tp/syscalls/sys_exit_read"};
constexpr std::string_view readv_enter[] = {"tp/syscalls/sys_enter_readv"};
constexpr std::string_view readv_exit[] = {"tp/syscalls/sys_exit_readv"};
constexpr std::string_view pread64_enter[] = {"tp/syscalls/sys_enter_pread64"};
constexpr std::string_view pread64_exit[] = {"tp/syscalls/sys_exit_pread64"};
constexpr std::string_view preadv_enter[] = {"tp/syscalls/sys_enter_preadv"};
constexpr std::string_view preadv_exit[] = {"tp/syscalls/sys_exit_preadv"};
constexpr std::string_view preadv2_enter[] = {"tp/syscalls/sys_enter_preadv2"};
constexpr std::string_view preadv2_exit[] = {"tp/syscalls/sys_exit_preadv2"};
constexpr std::string_view write_enter[] = {"tp/syscalls/sys_enter_write"};
constexpr std::string_view write_exit[] = {"tp/syscalls/sys_exit_write"};
constexpr std::string_view writev_enter[] = {"tp/syscalls/sys_enter_writev"};
constexpr std::string_view writev_exit[] = {"tp/syscalls/sys_exit_writev"};
constexpr std::string_view pwrite64_enter[] = {"tp/syscalls/sys_enter_pwrite64"};
constexpr std::string_view pwrite64_exit[] = {"tp/syscalls/sys_exit_pwrite64"};
constexpr std::string_view pwritev_enter[] = {"tp/syscalls/sys_enter_pwritev"};
constexpr std::string_view pwritev_exit[] = {"tp/syscalls/sys_exit_pwritev"};
constexpr std::string_view pwritev2_enter[] = {"tp/syscalls/sys_enter_pwritev2"};
constexpr std::string_view pwritev2_exit[] = {"tp/syscalls/sys_exit_pwritev2"};
constexpr hooks::EventHooks filetop_hooks[] = {
    {"read(2) entry", read_enter},         {"read(2) exit", read_exit},
    {"readv(2) entry", readv_enter},       {"readv(2) exit", readv_exit},
    {"pread64(2) entry", pread64_enter},   {"pread64(2) exit", pread64_exit},
    {"preadv(2) entry", preadv_enter},     {"preadv(2) exit", preadv_exit},
    {"preadv2(2) entry", preadv2_enter},   {"preadv2(2) exit", preadv2_exit},
    {"write(2) entry", write_enter},       {"write(2) exit", write_exit},
    {"writev(2) entry", writev_enter},     {"writev(2) exit", writev_exit},
    {"pwrite64(2) entry", pwrite64_enter}, {"pwrite64(2) exit", pwrite64_exit},
    {"pwritev(2) entry", pwritev_enter},   {"pwritev(2) exit", pwritev_exit},
    {"pwritev2(2) entry", pwritev2_enter}, {"pwritev2(2) exit", pwritev2_exit},
};
// clang-format on
constexpr std::size_t read_pair = 0, write_pair = 10; // required: read(2) and write(2)

enum class Sort { all, reads, writes, rbytes, wbytes };

struct Options {
    CommonOptions common;
    bool no_clear = false, all_files = false;
    TaskFilter filter;
    long rows = 20;
    Sort sort = Sort::all;
    Pacing pacing{std::chrono::seconds(1), {}};
};

// Loads both tracepoints of every call this kernel has; read(2) and write(2) are required, a
// missing other call (preadv2 before Linux 4.6, ...) is left out.
void choose_hooks(bpf_object* object) {
    for (std::size_t i = 0; i < std::size(filetop_hooks); i += 2)
        hooks::prefer_all(object, std::span(filetop_hooks).subspan(i, 2),
                          i == read_pair || i == write_pair);
}

using Row = std::pair<filetop_key, filetop_stat>;

// Takes every entry out of the map, each read and deleted in one step where the kernel can
// (Linux 5.14+), so that no call counted between the read and the delete is lost.
std::vector<Row> take_entries(HashMap<filetop_key, filetop_stat>& entries) {
    std::vector<Row> rows;
    for (const filetop_key& key : entries.keys()) {
        filetop_stat stat;
        if (bpf_map_lookup_and_delete_elem(entries.fd(), &key, &stat) == 0) {
            rows.emplace_back(key, stat);
            continue;
        }
        if (errno == ENOENT)
            continue;
        if (auto value = entries.lookup(key)) {
            entries.erase(key);
            rows.emplace_back(key, *value);
        }
    }
    return rows;
}

void sort_rows(std::vector<Row>& rows, Sort sort) {
    auto weight = [sort](const filetop_stat& s) -> std::uint64_t {
        switch (sort) {
        case Sort::reads:
            return s.reads;
        case Sort::writes:
            return s.writes;
        case Sort::rbytes:
            return s.read_bytes;
        case Sort::wbytes:
            return s.write_bytes;
        case Sort::all:
            break;
        }
        return s.reads + s.writes + s.read_bytes + s.write_bytes;
    };
    std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
        auto wa = weight(a.second), wb = weight(b.second);
        if (wa != wb)
            return wa > wb;
        return a.first.tid != b.first.tid ? a.first.tid < b.first.tid : a.first.ino < b.first.ino;
    });
}

std::string loadavg() {
    std::string line = sys::read_first_line("/proc/loadavg");
    return line;
}

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void print(std::vector<Row> rows, std::uint64_t lost) {
        sort_rows(rows, options_.sort);
        const std::size_t shown = std::min(rows.size(), static_cast<std::size_t>(options_.rows));
        if (options_.common.json)
            print_json(rows, shown, lost);
        else
            print_text(rows, shown);
    }

  private:
    void print_text(const std::vector<Row>& rows, std::size_t shown) const {
        std::string out;
        if (!options_.no_clear)
            out += "\033[H\033[2J";
        out += fmt::format("{:>8} loadavg: {}\n\n", clock_time(), loadavg());
        out += fmt::format("{:<7} {:<16} {:<6} {:<6} {:<7} {:<7} {:1} {}\n", "TID", "COMM", "READS",
                           "WRITES", "R_Kb", "W_Kb", "T", "FILE");
        for (std::size_t i = 0; i < shown; i++) {
            const filetop_stat& s = rows[i].second;
            out += fmt::format("{:<7} {:<16} {:<6} {:<6} {:<7} {:<7} {:1} {}\n", s.tid,
                               fixed_string(s.comm), s.reads, s.writes, s.read_bytes / 1024,
                               s.write_bytes / 1024, s.type, fixed_string(s.name));
        }
        out += "\n";
        std::fputs(out.c_str(), stdout);
        std::fflush(stdout);
    }

    void print_json(const std::vector<Row>& rows, std::size_t shown, std::uint64_t lost) const {
        auto files = nlohmann::json::array();
        for (std::size_t i = 0; i < shown; i++) {
            const auto& [key, s] = rows[i];
            files.push_back({{"tid", s.tid},
                             {"pid", s.pid},
                             {"comm", fixed_string(s.comm)},
                             {"reads", s.reads},
                             {"writes", s.writes},
                             {"read_bytes", s.read_bytes},
                             {"write_bytes", s.write_bytes},
                             {"read_kb", s.read_bytes / 1024},
                             {"write_kb", s.write_bytes / 1024},
                             {"type", std::string(1, s.type)},
                             {"file", fixed_string(s.name)},
                             {"dev", fmt::format("{}:{}", key.dev >> 20, key.dev & 0xfffff)},
                             {"inode", key.ino}});
        }
        write_json_record({{"time_unix_ns", unix_time_ns()},
                           {"loadavg", loadavg()},
                           {"files", std::move(files)},
                           {"rows_omitted", rows.size() - shown},
                           {"lost", lost}});
        std::fflush(stdout);
    }

    const Options& options_;
};

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<filetop_bpf>::open();
    choose_hooks(skel.object());
    options.filter.configure(skel->rodata);
    skel->rodata->regular_only = !options.all_files;
    skel.load();
    HashMap<filetop_key, filetop_stat> entries(skel->maps.entries);
    skel.attach();

    announce(options.common, "Tracing file reads and writes... Hit Ctrl-C to end.");
    Printer printer(options);
    std::uint64_t lost_before = 0;
    options.pacing.run(stop, [&] {
        const std::uint64_t lost = skel->bss->calls_dropped;
        printer.print(take_entries(entries), lost - lost_before);
        lost_before = lost;
    });
    if (lost_before)
        std::fprintf(stderr, "%llu calls not counted (maps full)\n",
                     static_cast<unsigned long long>(lost_before));
    return 0;
}

int filetop_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace file reads/writes by process.\n\n"
        "Counted at the read(2)/readv/pread64/preadv/preadv2 and write(2)/writev/pwrite64/\n"
        "pwritev/pwritev2 system calls (no kprobes): R_Kb and W_Kb are the bytes the calls\n"
        "returned, not the bytes asked for. Not seen (vfs_read/vfs_write kprobes would see\n"
        "them): I/O the kernel does itself (nfsd, overlayfs, loop devices, kernel_read users),\n"
        "io_uring, sendfile/splice/copy_file_range, and reads/writes through mmap.\n\n"
        "USAGE: filetop [-h] [-C] [-a] [-p PID] [-r ROWS] [-s SORT] [--json] [interval] "
        "[count]\n\n"
        "EXAMPLES:\n"
        "    filetop            # file I/O top, refresh every 1s\n"
        "    filetop -p 1216    # only trace PID 1216\n"
        "    filetop 5 10       # 5s summaries, 10 times\n"
        "    filetop -C -s wbytes -r 5   # no clear, top 5 by bytes written\n"
        "    filetop --json 1 3 # three 1-second tables as JSON Lines",
        "filetop"};
    app.add_flag("-a,--all", options.all_files, "Include special files");
    app.add_flag("-C,--noclear", options.no_clear, "Don't clear the screen");
    add_pid_option(app, options.filter);
    app.add_option("-r,--rows", options.rows, "Maximum rows to print, default 20")
        ->check(positive_integer);
    const std::map<std::string, Sort> sorts = {{"all", Sort::all},
                                               {"reads", Sort::reads},
                                               {"writes", Sort::writes},
                                               {"rbytes", Sort::rbytes},
                                               {"wbytes", Sort::wbytes}};
    app.add_option("-s,--sort", options.sort,
                   "Sort columns, default all [all, reads, writes, rbytes, wbytes]")
        ->transform(CLI::CheckedTransformer(sorts, CLI::ignore_case));
    add_common_options(app, options.common, false);
    add_pacing_options(app, options.pacing, "Output interval, in seconds (default 1)");
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(filetop, "file reads and writes by process, top-style", filetop_main, filetop_hooks);
