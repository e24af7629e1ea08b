// cachestat: page cache hits, misses and dirtied pages per interval, libbpf-tools' cachestat with
// its columns, plus --json and -p in the kernel. Accesses from fentry where it works, else from
// the filemap tracepoints; misses and dirties from tracepoints: see cachestat.bpf.c and
// docs/cachestat.md.
#include "cachestat.skel.h"
#include "cachestat.h"

#include "coretrace/clock.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace {

using namespace coretrace;

// Accesses: libbpf-tools' fentry on folio_mark_accessed (mark_page_accessed before folios) first;
// it counts faults' accesses too, so the fault row shares it. Otherwise the raw tracepoint of
// mm_filemap_get_pages, which gives the inode (a read is clamped to the file's size), then the
// classic one, which has only its number.
constexpr std::string_view get_pages_sections[] = {
    "fentry/folio_mark_accessed", "fentry/mark_page_accessed", "raw_tp/mm_filemap_get_pages",
    "tp/filemap/mm_filemap_get_pages"};
constexpr std::string_view fault_sections[] = {
    "fentry/folio_mark_accessed", "fentry/mark_page_accessed", "tp/filemap/mm_filemap_fault"};
constexpr std::string_view added_sections[] = {"tp/filemap/mm_filemap_add_to_page_cache"};
constexpr std::string_view dirty_sections[] = {"tp/writeback/writeback_dirty_folio",
                                               "tp/writeback/writeback_dirty_page"};
constexpr std::string_view buffer_dirty_sections[] = {"fentry/mark_buffer_dirty"};
// Two paths (hooks::prefer_path): the accesses' hook decides; with fentry the fault row takes the
// same program, and mark_buffer_dirty is counted where it can be.
constexpr hooks::EventHooks cachestat_hooks[] = {
    {"page cache access", get_pages_sections},
    {"page fault on a file", fault_sections},
    {"page added to the page cache", added_sections},
    {"folio dirtied", dirty_sections},
    // With the fentry accesses, metadata buffers dirtied, which libbpf-tools subtracts from them.
    {"buffer dirtied (subtracted from accesses)", buffer_dirty_sections, /*optional=*/true,
     hooks::Path::function},
};

struct Options {
    CommonOptions common;
    TaskFilter filter;
    Pacing pacing{std::chrono::seconds(1), {}};
};

// Buffers and Cached from /proc/meminfo, in kB.
std::pair<std::uint64_t, std::uint64_t> meminfo() {
    std::ifstream in("/proc/meminfo");
    std::uint64_t buffers = 0, cached = 0;
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        std::string name;
        std::uint64_t kb = 0;
        fields >> name >> kb;
        if (name == "Buffers:")
            buffers = kb;
        else if (name == "Cached:")
            cached = kb;
    }
    return {buffers, cached};
}

std::uint64_t take(__u64& counter) {
    return __atomic_exchange_n(&counter, 0, __ATOMIC_RELAXED);
}

template <typename Bss> void report(const Options& options, Bss& bss) {
    const std::uint64_t marked = take(bss.accesses), buffer_dirties = take(bss.buffer_dirties);
    const std::uint64_t accesses = marked > buffer_dirties ? marked - buffer_dirties : 0;
    const std::uint64_t misses = take(bss.misses);
    const std::uint64_t write_adds = take(bss.write_adds);
    const std::uint64_t dirties = take(bss.dirties);
    // Readahead adds pages before they are asked for: misses can exceed the accesses of one
    // interval. Then every access was a miss, as libbpf-tools reports it.
    const std::uint64_t hits = accesses > misses ? accesses - misses : 0;
    const std::uint64_t shown_misses = accesses > misses ? misses : accesses;
    const double ratio = accesses ? static_cast<double>(hits) / accesses : 0.0;
    const auto [buffers_kb, cached_kb] = meminfo();

    if (options.common.json) {
        emit_json_line(nlohmann::json{
            {"time_unix_ns", unix_time_ns()},
            {"hits", hits},
            {"misses", shown_misses},
            {"dirties", dirties},
            {"hit_ratio", ratio},
            {"buffers_mb", buffers_kb / 1024},
            {"cached_mb", cached_kb / 1024},
            {"accesses", accesses},
            {"pages_added", misses},
            {"pages_added_by_writes",
             write_adds}}.dump());
        return;
    }
    if (options.common.timestamp)
        std::printf("%-8s ", clock_time().c_str());
    std::printf("%8llu %8llu %8llu %7.2f%% %12llu %10llu\n", static_cast<unsigned long long>(hits),
                static_cast<unsigned long long>(shown_misses),
                static_cast<unsigned long long>(dirties), 100.0 * ratio,
                static_cast<unsigned long long>(buffers_kb / 1024),
                static_cast<unsigned long long>(cached_kb / 1024));
    std::fflush(stdout);
}

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<cachestat_bpf>::open();
    hooks::prefer_path(skel.object(), cachestat_hooks);
    options.filter.configure(skel->rodata);
    skel.load();
    skel.attach();

    announce(options.common, "Tracing page cache hits and misses... Hit Ctrl-C to end.");
    if (!options.common.json) {
        if (options.common.timestamp)
            std::printf("%-8s ", "TIME");
        std::printf("%8s %8s %8s %8s %12s %10s\n", "HITS", "MISSES", "DIRTIES", "HITRATIO",
                    "BUFFERS_MB", "CACHED_MB");
        std::fflush(stdout);
    }
    options.pacing.run(stop, [&] { report(options, *skel->bss); });
    return 0;
}

int cachestat_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Count page cache hits, misses and dirtied pages.\n\n"
        "Where fentry works, accesses are counted as libbpf-tools does: folio_mark_accessed\n"
        "calls less mark_buffer_dirty calls. Elsewhere, from tracepoints:\n"
        "  accesses = pages asked for by buffered reads (filemap:mm_filemap_get_pages, once per\n"
        "             read request, clamped to the file's size) + page faults on files\n"
        "             (filemap:mm_filemap_fault); writes to cached pages are not seen;\n"
        "  MISSES   = pages added to the page cache (filemap:mm_filemap_add_to_page_cache),\n"
        "             except by write-family system calls; readahead pages count when added;\n"
        "  DIRTIES  = folios dirtied (writeback:writeback_dirty_folio);\n"
        "  HITS     = accesses - MISSES (0 when readahead added more than was asked for).\n"
        "BUFFERS_MB and CACHED_MB are Buffers and Cached from /proc/meminfo.\n\n"
        "USAGE: cachestat [--help] [-T] [-p PID] [--json] [interval] [count]\n\n"
        "EXAMPLES:\n"
        "    cachestat          # shows hits and misses to the file system page cache\n"
        "    cachestat -T       # include timestamps\n"
        "    cachestat 1 10     # print 1 second summaries, 10 times\n"
        "    cachestat -p 185   # count page cache use by PID 185 only",
        "cachestat"};
    add_pid_option(app, options.filter, "Count page cache use by this process only");
    add_common_options(app, options.common, true);
    add_pacing_options(app, options.pacing, "Output interval, in seconds (default 1)");
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(cachestat, "page cache hits, misses and dirtied pages per interval", cachestat_main,
               cachestat_hooks);
