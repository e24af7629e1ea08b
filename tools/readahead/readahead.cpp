// readahead: how much of what readahead brought into the page cache was used, and how soon,
// libbpf-tools' readahead with its flags and text output, plus --json, -p in the kernel and a
// count of the pages it could not follow. On libbpf-tools' fentry hooks where they work, else on
// the readahead and filemap tracepoints: see readahead.bpf.c and docs/readahead.md.
#include "readahead.h" // before the skeleton, whose .bss holds a struct readahead_hist

#include "readahead.skel.h"

#include "coretrace/histogram.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace {

using namespace coretrace;

// Two paths (hooks::prefer_path, readahead.bpf.c): each event lists libbpf-tools' function hook,
// then the tracepoint; the first decides. With fentry/fexit every event takes its function hook
// (three access events share folio_mark_accessed) and the function path's own events load too.
constexpr std::string_view unbounded_sections[] = {"fentry/page_cache_ra_unbounded",
                                                   "tp/readahead/page_cache_ra_unbounded"};
constexpr std::string_view order_sections[] = {"fentry/page_cache_ra_order",
                                               "tp/readahead/page_cache_ra_order"};
constexpr std::string_view added_sections[] = {"fexit/filemap_alloc_folio_noprof",
                                               "fexit/filemap_alloc_folio",
                                               "tp/filemap/mm_filemap_add_to_page_cache"};
constexpr std::string_view get_pages_sections[] = {"fentry/folio_mark_accessed",
                                                   "tp/filemap/mm_filemap_get_pages"};
constexpr std::string_view map_pages_sections[] = {"fentry/folio_mark_accessed",
                                                   "tp/filemap/mm_filemap_map_pages"};
constexpr std::string_view fault_sections[] = {"fentry/folio_mark_accessed",
                                               "tp/filemap/mm_filemap_fault"};
constexpr std::string_view deleted_sections[] = {"tp/filemap/mm_filemap_delete_from_page_cache"};
constexpr std::string_view unbounded_exit[] = {"fexit/page_cache_ra_unbounded"};
constexpr std::string_view order_exit[] = {"fexit/page_cache_ra_order"};
constexpr std::string_view folio_deleted[] = {"raw_tp/mm_filemap_delete_from_page_cache"};
constexpr hooks::EventHooks readahead_hooks[] = {
    {"readahead (unbounded)", unbounded_sections},
    {"readahead (large folios)", order_sections},
    {"page added to the page cache", added_sections},
    {"buffered read of pages", get_pages_sections},
    {"fault-around mapping of pages", map_pages_sections},
    {"page fault on a file", fault_sections},
    {"page removed from the page cache", deleted_sections, /*optional=*/false,
     hooks::Path::tracepoint},
    // The function path's other programs: the ends of the two readahead functions, and eviction
    // seen with the folio's address.
    {"readahead (unbounded) return", unbounded_exit, /*optional=*/false, hooks::Path::function},
    {"readahead (large folios) return", order_exit, /*optional=*/false, hooks::Path::function},
    {"folio removed from the page cache", folio_deleted, /*optional=*/false, hooks::Path::function},
};
struct Options {
    CommonOptions common;
    long duration_s = 0;
    bool milliseconds = false;
    TaskFilter filter;
};

void report(const Options& options, const readahead_hist& hist) {
    const char* unit = options.milliseconds ? "msecs" : "usecs";
    if (options.common.json) {
        emit_json_line(nlohmann::json{{"total", hist.total},
                                      {"unused", hist.unused},
                                      {"used", hist.total - hist.unused},
                                      {"not_followed", hist.dropped},
                                      {"unit", unit},
                                      {"buckets", log2_hist_json(hist.slots, unit)}}
                           .dump());
        return;
    }
    std::string out =
        fmt::format("\nReadahead unused/total pages: {}/{}\n", hist.unused, hist.total);
    out += format_log2_hist(hist.slots, unit);
    if (hist.dropped)
        out += fmt::format("({} readahead pages not followed: page map full)\n", hist.dropped);
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

int run(Options& options) {
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<readahead_bpf>::open();
    hooks::prefer_path(skel.object(), readahead_hooks);
    options.filter.configure(skel->rodata);
    skel->rodata->targ_ms = options.milliseconds;
    skel.load();
    skel.attach();

    announce(options.common, "Tracing fs read-ahead ... Hit Ctrl-C to end.");
    Pacing pacing;
    if (options.duration_s) {
        pacing.interval = std::chrono::seconds(options.duration_s);
        pacing.count = 1;
    }
    pacing.run(stop, [] {});
    skel.detach();
    report(options, skel->bss->hist);
    return 0;
}

int readahead_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Show fs automatic read-ahead usage.\n\n"
        "Where fentry/fexit work, on libbpf-tools' hooks (page_cache_ra_unbounded/_order,\n"
        "filemap_alloc_folio, folio_mark_accessed). Elsewhere on tracepoints\n"
        "(readahead:page_cache_ra_unbounded, page_cache_ra_order,\n"
        "filemap:mm_filemap_add_to_page_cache, mm_filemap_get_pages, mm_filemap_map_pages,\n"
        "mm_filemap_fault, mm_filemap_delete_from_page_cache): there a page counts as used at\n"
        "its first buffered read, fault-around mapping or page\n"
        "fault (splice and sendfile read through the same path), not at mark_page_accessed:\n"
        "a page reached only by other kernel users of the page cache stays unused. Pages are\n"
        "known by device, inode and index, not by struct page.\n\n"
        "USAGE: readahead [--help] [-d DURATION] [-m] [-p PID] [--json]\n\n"
        "EXAMPLES:\n"
        "    readahead              # summarize readahead page use until Ctrl-C\n"
        "    readahead -d 10        # trace for 10 seconds only\n"
        "    readahead -m --json    # millisecond histogram, as one JSON object",
        "readahead"};
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    app.add_flag("-m,--milliseconds", options.milliseconds, "Millisecond histogram");
    add_pid_option(app, options.filter, "Count readahead done by this process only");
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(readahead, "pages read ahead into the page cache, used and unused", readahead_main,
               readahead_hooks);
