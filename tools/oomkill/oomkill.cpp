// oomkill: OOM kills as they happen, libbpf-tools' oomkill with its text output, from the
// oom:mark_victim tracepoint, plus --json with the victim's memory, and a count of the records
// lost.
#include "oomkill_setup.hpp"

#include "coretrace/clock.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

#include <string>
#include <unistd.h>

namespace {

using namespace coretrace;

struct Options {
    CommonOptions common;
};

class Printer {
  public:
    explicit Printer(const Options& options)
        : options_(options), page_kb_(static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) / 1024) {}

    void print(const oomkill_event& event) {
        const std::string victim = fixed_string(event.victim_comm);
        const std::string trigger = fixed_string(event.trigger_comm);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);
        // The victim's resident pages: anonymous, file and shared memory.
        const std::uint64_t pages =
            (event.anon_rss_kb + event.file_rss_kb + event.shmem_rss_kb) / page_kb_;
        const std::string loadavg = sys::read_first_line("/proc/loadavg");

        if (options_.common.json) {
            nlohmann::json record{{"ts_ns", unix_ns},
                                  {"trigger_pid", event.trigger_pid},
                                  {"trigger_tid", event.trigger_tid},
                                  {"trigger_comm", trigger},
                                  {"victim_pid", event.victim_pid},
                                  {"victim_comm", victim},
                                  {"loadavg", loadavg}};
            if (event.has_details) {
                record["pages"] = pages;
                record["victim_uid"] = event.victim_uid;
                record["total_vm_kb"] = event.total_vm_kb;
                record["anon_rss_kb"] = event.anon_rss_kb;
                record["file_rss_kb"] = event.file_rss_kb;
                record["shmem_rss_kb"] = event.shmem_rss_kb;
                record["pgtables_kb"] = event.pgtables_kb;
                record["oom_score_adj"] = event.oom_score_adj;
            }
            write_json_record(record);
            return;
        }
        std::printf("%s Triggered by PID %u (\"%s\"), OOM kill of PID %u (\"%s\"), %llu pages, "
                    "loadavg: %s\n",
                    clock_time(unix_ns).c_str(), event.trigger_pid, trigger.c_str(),
                    event.victim_pid, victim.c_str(), static_cast<unsigned long long>(pages),
                    loadavg.c_str());
    }

  private:
    const Options& options_;
    std::uint64_t page_kb_;
    KernelClock clock_;
};

int run(const Options& options) {
    sys::require_bpf_privileges();
    StopSignals stop;

    auto skel = oomkill::open();
    EventStream::prepare(skel, 1u << 16);
    skel.load();

    Printer printer(options);
    auto stream = EventStream::of<oomkill_event>(
        skel, [&printer](const oomkill_event& event) { printer.print(event); });
    skel.attach();

    announce(options.common, "Tracing OOM kills... Hit Ctrl-C to end.");
    pump_events(*stream, stop);
    skel.detach();
    finish_events(*stream, options.common);
    return 0;
}

int oomkill_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace OOM kills.\n\n"
        "USAGE: oomkill [-h] [-v] [--json]\n\n"
        "EXAMPLES:\n"
        "    oomkill               # trace OOM kills\n"
        "    oomkill --json        # one JSON object per kill, and a summary at the end\n\n"
        "From the oom:mark_victim tracepoint, not a kprobe on oom_kill_process(): "
        "'pages'\nis the victim's resident memory (anon + file + shmem RSS), not the "
        "size of the\nOOM domain (oc->totalpages) that libbpf-tools prints. The "
        "triggering process is\nthe task that was running when the victim was "
        "marked.",
        "oomkill"};
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(oomkill, "OOM kills: the victim and the process that triggered it", oomkill_main,
               oomkill::hook_table);
