// klockstat: kernel lock contention, libbpf-tools' klockstat flags and acquisition table, from
// the lock:contention_begin/end tracepoints: wait times per lock (or per thread with -P), plus
// --json. Hold times, caller stacks and -c need kprobes or the symbolizer and are not here.
#include "klockstat.skel.h"
#include "klockstat.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/map.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

namespace {

using namespace coretrace;

// raw_tp first (no record copy); classic tracepoints where there are no raw ones.
constexpr std::string_view begin_sections[] = {"raw_tp/contention_begin",
                                               "tp/lock/contention_begin"};
constexpr std::string_view end_sections[] = {"raw_tp/contention_end", "tp/lock/contention_end"};
constexpr hooks::EventHooks klockstat_hooks[] = {{"contention_begin", begin_sections},
                                                 {"contention_end", end_sections}};

enum class SortBy { max, total, count };

struct Options {
    CommonOptions common;
    TaskFilter filter;
    std::string caller;
    std::string lock;
    long nr_locks = 99999999;
    long nr_stacks = 1;
    std::string sort = "acq_max";
    long duration_s = 0;
    long interval_s = 0;
    bool reset = false, per_thread = false;
};

// Kernel data symbols by address, from /proc/kallsyms: static locks have a name, locks inside
// allocated objects (an mm's mmap_lock, a pipe's mutex) do not.
class KernelSymbols {
  public:
    // Reads /proc/kallsyms once, on first use.
    const std::string* name_at(std::uint64_t addr) {
        load();
        auto it = by_addr_.find(addr);
        return it == by_addr_.end() ? nullptr : &it->second;
    }
    // The address of a symbol, or 0; `data_symbols` counts the data symbols seen (none when
    // the kernel was built without CONFIG_KALLSYMS_ALL).
    static std::uint64_t address_of(const std::string& name, std::size_t& data_symbols) {
        std::ifstream in("/proc/kallsyms");
        std::string line;
        data_symbols = 0;
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string addr, type, sym;
            if (!(fields >> addr >> type >> sym))
                continue;
            if (type.size() == 1 && is_data(type[0]))
                data_symbols++;
            if (sym == name)
                return std::stoull(addr, nullptr, 16);
        }
        return 0;
    }
    // Data, bss and read-only data: where a static lock lives.
    static bool is_data(char type) {
        return std::string_view("dDbBrR").find(type) != std::string_view::npos;
    }

  private:
    void load() {
        if (loaded_)
            return;
        loaded_ = true;
        std::ifstream in("/proc/kallsyms");
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string addr, type, sym;
            if (!(fields >> addr >> type >> sym) || type.size() != 1)
                continue;
            if (!is_data(type[0]))
                continue;
            std::uint64_t value = std::stoull(addr, nullptr, 16);
            if (value)
                by_addr_.emplace(value, sym);
        }
    }
    bool loaded_ = false;
    std::unordered_map<std::uint64_t, std::string> by_addr_;
};

// libbpf-tools' time format: one decimal and a unit, or whole nanoseconds.
std::string format_time(std::uint64_t ns) {
    struct Unit {
        double base;
        const char* name;
    };
    static constexpr Unit units[] = {
        {1e9 * 3600, "h "}, {1e9 * 60, "m "}, {1e9, "s "}, {1e6, "ms"}, {1e3, "us"}};
    for (const auto& unit : units)
        if (static_cast<double>(ns) >= unit.base)
            return fmt::format("{:.1f} {}", static_cast<double>(ns) / unit.base, unit.name);
    return fmt::format("{} ns", ns);
}

std::vector<std::string> flag_names(std::uint32_t flags) {
    static constexpr std::pair<std::uint32_t, const char*> names[] = {
        {KLOCKSTAT_F_SPIN, "spin"}, {KLOCKSTAT_F_READ, "read"},     {KLOCKSTAT_F_WRITE, "write"},
        {KLOCKSTAT_F_RT, "rt"},     {KLOCKSTAT_F_PERCPU, "percpu"}, {KLOCKSTAT_F_MUTEX, "mutex"}};
    std::vector<std::string> out;
    for (const auto& [bit, name] : names)
        if (flags & bit)
            out.emplace_back(name);
    return out;
}

class Reporter {
  public:
    Reporter(const Options& options, SortBy sort, HashMap<klockstat_key, klockstat_stat>& stats,
             const volatile __u64& dropped)
        : options_(options), sort_(sort), stats_(stats), dropped_(dropped) {}

    void report() {
        auto items = options_.reset ? stats_.take() : stats_.items();
        auto value = [this](const klockstat_stat& s) {
            return sort_ == SortBy::max ? s.max_ns : sort_ == SortBy::total ? s.total_ns : s.count;
        };
        std::sort(items.begin(), items.end(), [&](const auto& a, const auto& b) {
            if (value(a.second) != value(b.second))
                return value(a.second) > value(b.second);
            return a.first.lock != b.first.lock ? a.first.lock < b.first.lock
                                                : a.first.tid < b.first.tid;
        });
        if (items.size() > static_cast<std::size_t>(options_.nr_locks))
            items.resize(static_cast<std::size_t>(options_.nr_locks));
        const std::uint64_t dropped = dropped_;

        if (options_.common.json) {
            auto rows = nlohmann::json::array();
            for (const auto& [key, stat] : items) {
                nlohmann::json row;
                if (options_.per_thread) {
                    row["tid"] = key.tid;
                    row["comm"] = fixed_string(stat.max_comm);
                } else {
                    row["lock_addr"] = fmt::format("{:#x}", key.lock);
                    const std::string* name = symbols_.name_at(key.lock);
                    row["lock_name"] = name ? nlohmann::json(*name) : nlohmann::json(nullptr);
                }
                row["flags"] = flag_names(stat.flags);
                row["count"] = stat.count;
                row["total_ns"] = stat.total_ns;
                row["avg_ns"] = stat.count ? stat.total_ns / stat.count : 0;
                row["max_ns"] = stat.max_ns;
                row["max_pid"] = stat.max_pid;
                row["max_tid"] = stat.max_tid;
                row["max_comm"] = fixed_string(stat.max_comm);
                rows.push_back(std::move(row));
            }
            emit_json_line(nlohmann::json{
                {"time_unix_ns", unix_time_ns()},
                {"per_thread", options_.per_thread},
                {options_.per_thread ? "threads" : "locks", rows},
                {"dropped",
                 dropped}}.dump());
            return;
        }
        std::string out;
        if (options_.common.timestamp)
            out += fmt::format("{:<8}\n", clock_time());
        bool first = true;
        for (const auto& [key, stat] : items) {
            if (first) {
                out += options_.per_thread ? "\n                Tid              Comm"
                                           : "\n                                 Lock";
                out += "  Avg Wait    Count   Max Wait   Total Wait\n";
                first = false;
            }
            std::string what;
            if (options_.per_thread) {
                what = fmt::format("{}  {:>16}", key.tid, fixed_string(stat.max_comm));
            } else {
                const std::string* name = symbols_.name_at(key.lock);
                what = name ? *name : fmt::format("{:#x}", key.lock);
            }
            out += fmt::format("{:>37} {:>9} {:>8} {:>10} {:>12}\n", what,
                               format_time(stat.count ? stat.total_ns / stat.count : 0), stat.count,
                               format_time(stat.max_ns), format_time(stat.total_ns));
        }
        if (dropped)
            out +=
                fmt::format("{} waits not measured: too many waiting threads or locks\n", dropped);
        std::fputs(out.c_str(), stdout);
        std::fflush(stdout);
    }

  private:
    const Options& options_;
    SortBy sort_;
    HashMap<klockstat_key, klockstat_stat>& stats_;
    const volatile __u64& dropped_;
    KernelSymbols symbols_;
};

SortBy parse_sort(const std::string& text) {
    SortBy sort = SortBy::max;
    std::istringstream in(text);
    std::string field;
    while (std::getline(in, field, ',')) {
        if (field == "acq_max")
            sort = SortBy::max;
        else if (field == "acq_total")
            sort = SortBy::total;
        else if (field == "acq_count")
            sort = SortBy::count;
        else if (field.starts_with("hld_"))
            throw Error(fmt::format("-S {}: hold times are not measured (the lock tracepoints "
                                    "see waits only); sort by acq_max, acq_total or acq_count",
                                    field));
        else
            throw Error(
                fmt::format("bad sort field '{}': use acq_max, acq_total or acq_count", field));
    }
    return sort;
}

std::uint64_t parse_lock(const std::string& text) {
    if (text.starts_with("0x") || text.starts_with("0X")) {
        std::size_t used = 0;
        std::uint64_t addr = 0;
        try {
            addr = std::stoull(text, &used, 16);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != text.size() || addr == 0)
            throw Error(fmt::format("-L {}: not a lock address", text));
        return addr;
    }
    std::size_t data_symbols = 0;
    std::uint64_t addr = KernelSymbols::address_of(text, data_symbols);
    if (addr)
        return addr;
    // A kernel without CONFIG_KALLSYMS_ALL lists functions only (and a few section markers).
    if (data_symbols < 1000)
        throw Error(fmt::format("-L {}: this kernel's /proc/kallsyms lists no data symbols "
                                "(CONFIG_KALLSYMS_ALL is off), so locks have no names: give the "
                                "lock's 0x address",
                                text));
    throw Error(fmt::format("-L {}: no kernel symbol of that name in /proc/kallsyms (give a lock "
                            "name or a 0x address)",
                            text));
}

int run(Options& options) {
    if (!options.caller.empty())
        throw Error("-c CALLER is not supported yet: caller stacks come with coretrace's "
                    "symbolizer");
    if (options.nr_stacks > 1)
        throw Error("-s NR_STACKS is not supported yet: caller stacks come with coretrace's "
                    "symbolizer");
    const SortBy sort = parse_sort(options.sort);
    sys::require_bpf_privileges();
    const std::uint64_t lock = options.lock.empty() ? 0 : parse_lock(options.lock);
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<klockstat_bpf>::open();
    hooks::prefer(skel.object(), klockstat_hooks[0]);
    hooks::prefer(skel.object(), klockstat_hooks[1]);
    options.filter.configure(skel->rodata);
    skel->rodata->targ_lock = lock;
    skel->rodata->per_thread = options.per_thread;
    skel.load();
    HashMap<klockstat_key, klockstat_stat> stats(skel->maps.stats);
    skel.attach();

    announce(options.common, "Tracing lock contention (wait times)... Hit Ctrl-C to end.");
    Reporter reporter(options, sort, stats, skel->bss->dropped);
    Pacing pacing;
    // As libbpf-tools: -i sets the interval, -d the number of intervals (one if -i is absent).
    if (options.interval_s)
        pacing.interval = std::chrono::seconds(options.interval_s);
    if (options.duration_s) {
        long interval = options.interval_s ? std::min(options.interval_s, options.duration_s)
                                           : options.duration_s;
        pacing.interval = std::chrono::seconds(interval);
        pacing.count = options.duration_s / interval;
    }
    pacing.run(stop, [&] { reporter.report(); });
    return 0;
}

int klockstat_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace kernel lock contention: wait times per lock, in nsec.\n\n"
        "USAGE: klockstat [-hPRTv] [-p PID] [-t TID] [-L LOCK] [-n NR_LOCKS] [-S SORT]\n"
        "                 [-d DURATION] [-i INTERVAL] [--json]\n\n"
        "EXAMPLES:\n"
        "  klockstat                     # trace system wide until ctrl-c\n"
        "  klockstat -d 5                # trace for 5 seconds\n"
        "  klockstat -i 5                # print stats every 5 seconds\n"
        "  klockstat -p 181              # trace process 181 only\n"
        "  klockstat -t 181              # trace thread 181 only\n"
        "  klockstat -L cgroup_mutex     # trace the cgroup_mutex lock only (accepts addr too)\n"
        "  klockstat -S acq_count        # sort by wait count\n"
        "  klockstat -n 3                # display top 3 locks/threads\n"
        "  klockstat -P                  # print stats per thread\n"
        "  klockstat --json -i 1         # one JSON object per second\n\n"
        "From the lock:contention_begin/end tracepoints, not kprobes on the mutex and rwsem\n"
        "functions: only contended acquisitions are seen, of every kind of kernel lock\n"
        "(mutexes, rwsems, spinlocks, rwlocks...), and only their WAIT time. Hold times (the\n"
        "hld_* sorts and the 'Hold' table) are not measured. Rows are per lock, named from\n"
        "/proc/kallsyms for a static lock and by address otherwise; caller stacks (-c, -s)\n"
        "are not supported yet.",
        "klockstat"};
    add_pid_option(app, options.filter, "Filter by process ID");
    add_tid_option(app, options.filter, "-t,--tid", "Filter by thread ID");
    app.add_option("-c,--caller", options.caller,
                   "Filter by caller string prefix (not supported yet)");
    app.add_option("-L,--lock", options.lock, "Filter by specific ksym lock name or 0x address");
    app.add_option("-n,--locks", options.nr_locks, "Number of locks or threads to print")
        ->check(positive_integer);
    app.add_option("-s,--stacks", options.nr_stacks,
                   "Number of stack entries to print per lock (only 1 for now)")
        ->check(positive_integer);
    app.add_option("-S,--sort", options.sort, "Sort by field: acq_[max|total|count]");
    app.add_option("-d,--duration", options.duration_s, "Duration to trace")
        ->check(positive_integer);
    app.add_option("-i,--interval", options.interval_s, "Print interval")->check(positive_integer);
    app.add_flag("-R,--reset", options.reset, "Reset stats each interval");
    app.add_flag("-P,--per-thread", options.per_thread, "Print per-thread stats");
    add_common_options(app, options.common, true);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(klockstat, "kernel lock contention: wait times per lock or thread", klockstat_main,
               klockstat_hooks);
