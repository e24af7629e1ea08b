// syscount: system call counts and latencies, per system call or per process, libbpf-tools'
// syscount with its flags and text output, plus --json, every filter in the kernel, and a count
// of the calls that could not be counted.
#include "syscount_setup.hpp"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/map.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/syscall_names.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

using namespace coretrace;
using namespace std::chrono;

constexpr auto& syscount_hooks = syscount::hook_table;

struct Options {
    CommonOptions common;
    TaskFilter filter;
    syscount::Settings settings;
    bool milliseconds = false, list = false;
    long top = 10;
    long interval_s = 0;
    long duration_s = 0;
};

// An errno by number (1 to 4095) or by name (ENOENT), as glibc names them.
int parse_errno(const std::string& text) {
    int number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec == std::errc() && end == text.data() + text.size())
        return number >= 1 && number <= 4095 ? number : 0;
    for (int candidate = 1; candidate <= 4095; candidate++) {
        const char* name = strerrorname_np(candidate);
        if (name && text == name)
            return candidate;
    }
    return 0;
}

const CLI::Validator errno_value(
    [](std::string& text) -> std::string {
        if (parse_errno(text) == 0)
            return fmt::format("must be an errno name such as ENOENT or a number from 1 to "
                               "4095, not '{}'",
                               text);
        return "";
    },
    "ERRNO");

struct Row {
    std::uint32_t key;
    syscount_value value;
};

class Reporter {
  public:
    Reporter(const Options& options, const bpf_map* counts, const __u64* dropped)
        : options_(options), counts_(counts), dropped_(dropped) {}

    void report() {
        std::vector<Row> rows = take();
        std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
            return options_.settings.latency ? a.value.total_ns > b.value.total_ns
                                             : a.value.count > b.value.count;
        });
        if (rows.size() > static_cast<std::size_t>(options_.top))
            rows.resize(options_.top);
        const std::uint64_t dropped = *dropped_;
        const std::uint64_t new_drops = dropped - reported_drops_;
        reported_drops_ = dropped;
        if (options_.common.json)
            json(rows, new_drops);
        else
            text(rows);
    }
    std::uint64_t dropped() const { return reported_drops_; }

  private:
    // Every key's counts, each taken and deleted in one step where the kernel can (5.14+), so
    // that a call counted between the read and the delete is kept for the next report.
    std::vector<Row> take() {
        std::vector<Row> rows;
        HashMap<std::uint32_t, syscount_value> view(counts_);
        for (std::uint32_t key : view.keys()) {
            Row row{key, {}};
            if (atomic_take_) {
                if (bpf_map_lookup_and_delete_elem(view.fd(), &key, &row.value) == 0) {
                    rows.push_back(row);
                    continue;
                }
                if (errno == ENOENT)
                    continue;
                atomic_take_ = false; // EINVAL / ENOTSUPP: an older kernel
            }
            if (auto value = view.lookup(key)) {
                row.value = *value;
                view.erase(key);
                rows.push_back(row);
            }
        }
        return rows;
    }

    void json(const std::vector<Row>& rows, std::uint64_t new_drops) const {
        auto entries = nlohmann::json::array();
        for (const auto& row : rows) {
            nlohmann::json entry;
            if (options_.settings.by_process) {
                entry["pid"] = row.key;
                entry["comm"] = fixed_string(row.value.comm);
            } else {
                entry["syscall"] = syscalls::name(row.key);
                entry["nr"] = row.key;
            }
            entry["count"] = row.value.count;
            if (options_.settings.latency)
                entry["total_ns"] = row.value.total_ns;
            entries.push_back(std::move(entry));
        }
        emit_json_line(nlohmann::json{
            {"time_unix_ns", unix_time_ns()},
            {"by", options_.settings.by_process ? "process" : "syscall"},
            {"entries", std::move(entries)},
            {"not_counted",
             new_drops}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }

    void text(const std::vector<Row>& rows) const {
        if (rows.empty())
            return;
        std::string out = fmt::format("[{}]\n", clock_time());
        const char* key_column = options_.settings.by_process ? "PID    COMM" : "SYSCALL";
        if (options_.settings.latency)
            out += fmt::format("{:<22} {:>8} {:>16}\n", key_column, "COUNT",
                               options_.milliseconds ? "TIME (ms)" : "TIME (us)");
        else
            out += fmt::format("{:<22} {:>8}\n", key_column, "COUNT");
        const double divisor = options_.milliseconds ? 1e6 : 1e3;
        for (const auto& row : rows) {
            std::string key =
                options_.settings.by_process
                    ? fmt::format("{:<6} {:<15}", row.key, fixed_string(row.value.comm))
                    : syscalls::name(row.key);
            if (options_.settings.latency)
                out += fmt::format("{:<22} {:>8} {:>16.3f}\n", key, row.value.count,
                                   static_cast<double>(row.value.total_ns) / divisor);
            else
                out += fmt::format("{:<22} {:>8}\n", key, row.value.count);
        }
        out += "\n";
        std::fputs(out.c_str(), stdout);
        std::fflush(stdout);
    }

    const Options& options_;
    const bpf_map* counts_;
    const __u64* dropped_;
    std::uint64_t reported_drops_ = 0;
    bool atomic_take_ = true;
};

int list_syscalls(const Options& options) {
    for (const auto& entry : syscalls::all()) {
        if (options.common.json)
            emit_json_line(nlohmann::json{{"nr", entry.number}, {"syscall", entry.name}}.dump());
        else
            std::printf("%3ld: %.*s\n", entry.number, static_cast<int>(entry.name.size()),
                        entry.name.data());
    }
    return 0;
}

int run(Options& options) {
    if (options.list)
        return list_syscalls(options);
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = syscount::start(options.settings, options.filter);

    Reporter reporter(options, skel->maps.counts, &skel->bss->dropped);
    announce(options.common,
             fmt::format("Tracing syscalls, printing top {}... Hit Ctrl-C to end.", options.top));

    // No interval: one report at the end (Ctrl-C or -d); an interval: one per interval too.
    // A wait that ends early (before the next report is due) is simply resumed.
    const auto never = steady_clock::time_point::max();
    const auto started = steady_clock::now();
    const auto deadline = options.duration_s ? started + seconds(options.duration_s) : never;
    auto next_report = options.interval_s ? started + seconds(options.interval_s) : never;
    const auto forever = duration_cast<milliseconds>(hours(24 * 366 * 100));
    for (;;) {
        const auto until = std::min(next_report, deadline);
        auto wait = forever;
        if (until != never)
            wait = ceil<milliseconds>(
                std::max(until - steady_clock::now(), steady_clock::duration::zero()));
        const bool signalled = stop.wait_for(wait);
        const auto now = steady_clock::now();
        if (signalled || now >= deadline) {
            skel.detach();
            reporter.report();
            break;
        }
        if (now >= next_report) {
            reporter.report();
            next_report += seconds(options.interval_s);
        }
    }
    if (reporter.dropped())
        std::fprintf(stderr, "%llu syscalls not counted (a map was full)\n",
                     static_cast<unsigned long long>(reporter.dropped()));
    return 0;
}

int syscount_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "syscount: summarize syscall counts and latencies.\n"
        "Every filter (-p, -c, -x, -e) is applied in the kernel.\n\n"
        "USAGE: syscount [-v] [-p PID] [-i INTERVAL] [-d DURATION] [-T TOP] [-c CG] [-x] [-e "
        "ERRNO]\n"
        "                [-L] [-m] [-P] [-l] [--json]\n\n"
        "EXAMPLES:\n"
        "    syscount                 # print the top 10 syscalls by count at Ctrl-C\n"
        "    syscount -p $(pidof dd)  # look only at a particular process\n"
        "    syscount -L              # measure and sort output by latency\n"
        "    syscount -P              # group statistics by pid, not by syscall\n"
        "    syscount -x -i 5         # count only failed syscalls\n"
        "    syscount -e ENOENT -i 5  # count only syscalls failed with a given errno\n"
        "    syscount -c CG           # trace processes in cgroup v2 directory CG only\n"
        "    syscount --json -i 1     # one JSON object per second",
        "syscount"};
    add_pid_option(app, options.filter, "Process PID to trace");
    app.add_option("-i,--interval", options.interval_s,
                   "Print summary at this interval (seconds), 0 for infinite wait (default)")
        ->check(CLI::Range(0L, 1000000000L));
    app.add_option("-d,--duration", options.duration_s, "Total tracing duration (seconds)")
        ->check(positive_integer);
    app.add_option("-T,--top", options.top, "Print only the top syscalls (default 10)")
        ->check(positive_integer);
    add_cgroup_option(app, options.filter);
    app.add_flag("-x,--failures", options.settings.failures, "Trace only failed syscalls");
    app.add_flag("-L,--latency", options.settings.latency, "Collect syscall latency");
    app.add_flag("-m,--milliseconds", options.milliseconds,
                 "Display latency in milliseconds (default: microseconds)");
    app.add_flag("-P,--process", options.settings.by_process,
                 "Count by process and not by syscall");
    std::string errno_text;
    app.add_option("-e,--errno", errno_text,
                   "Trace only syscalls that return this error (numeric or EPERM, etc.)")
        ->check(errno_value);
    app.add_flag("-l,--list", options.list, "Print list of recognized syscalls and exit");
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] {
        if (!errno_text.empty())
            options.settings.filter_errno = parse_errno(errno_text);
        return run(options);
    });
}

} // namespace

CORETRACE_TOOL(syscount, "system call counts and latencies, per call or per process", syscount_main,
               syscount_hooks);
