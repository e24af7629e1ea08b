// capable: security capability checks as they happen, libbpf-tools' capable with its flags and
// text output, from the capability:cap_capable tracepoint, plus --json, every filter in the
// kernel, and a count of the records lost.
#include "capable.skel.h"
#include "capable.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/stack_report.hpp"
#include "coretrace/system.hpp"
#include "coretrace/task_filter.hpp"
#include "coretrace/tool.hpp"

#include <array>
#include <fmt/format.h>
#include <string>
#include <unistd.h>

namespace {

using namespace coretrace;

// fexit on cap_capable() first (libbpf-tools' hook; it alone sees the options: AUDIT, INSETID),
// then the tracepoint of Linux 6.13+: raw_tp (typed arguments, no record copy), then tp.
constexpr std::string_view check_sections[] = {"fexit/cap_capable", "raw_tp/cap_capable",
                                               "tp/capability/cap_capable"};
constexpr hooks::EventHooks capable_hooks[] = {{"capability check", check_sections}};

// Names of the CAP_* numbers of <linux/capability.h>, by number.
constexpr std::array<std::string_view, 41> cap_names = {"CAP_CHOWN",
                                                        "CAP_DAC_OVERRIDE",
                                                        "CAP_DAC_READ_SEARCH",
                                                        "CAP_FOWNER",
                                                        "CAP_FSETID",
                                                        "CAP_KILL",
                                                        "CAP_SETGID",
                                                        "CAP_SETUID",
                                                        "CAP_SETPCAP",
                                                        "CAP_LINUX_IMMUTABLE",
                                                        "CAP_NET_BIND_SERVICE",
                                                        "CAP_NET_BROADCAST",
                                                        "CAP_NET_ADMIN",
                                                        "CAP_NET_RAW",
                                                        "CAP_IPC_LOCK",
                                                        "CAP_IPC_OWNER",
                                                        "CAP_SYS_MODULE",
                                                        "CAP_SYS_RAWIO",
                                                        "CAP_SYS_CHROOT",
                                                        "CAP_SYS_PTRACE",
                                                        "CAP_SYS_PACCT",
                                                        "CAP_SYS_ADMIN",
                                                        "CAP_SYS_BOOT",
                                                        "CAP_SYS_NICE",
                                                        "CAP_SYS_RESOURCE",
                                                        "CAP_SYS_TIME",
                                                        "CAP_SYS_TTY_CONFIG",
                                                        "CAP_MKNOD",
                                                        "CAP_LEASE",
                                                        "CAP_AUDIT_WRITE",
                                                        "CAP_AUDIT_CONTROL",
                                                        "CAP_SETFCAP",
                                                        "CAP_MAC_OVERRIDE",
                                                        "CAP_MAC_ADMIN",
                                                        "CAP_SYSLOG",
                                                        "CAP_WAKE_ALARM",
                                                        "CAP_BLOCK_SUSPEND",
                                                        "CAP_AUDIT_READ",
                                                        "CAP_PERFMON",
                                                        "CAP_BPF",
                                                        "CAP_CHECKPOINT_RESTORE"};

std::string cap_name(int cap) {
    if (cap >= 0 && static_cast<std::size_t>(cap) < cap_names.size())
        return std::string(cap_names[cap]);
    return fmt::format("CAP_{}", cap); // a capability newer than this table
}

struct Options {
    CommonOptions common;
    TaskFilter filter;
    std::string unique = "off";
    bool extra = false, kernel_stack = false, user_stack = false;
    long storage = 1024;
    bpf_map* stacks = nullptr; // the stack map, for -K/-U
};

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (options_.common.json)
            return;
        if (options_.extra)
            std::printf("%-8s %-5s %-7s %-7s %-16s %-7s %-20s %-7s %-7s %-7s\n", "TIME", "UID",
                        "PID", "TID", "COMM", "CAP", "NAME", "AUDIT", "VERDICT", "INSETID");
        else
            std::printf("%-8s %-5s %-7s %-16s %-7s %-20s %-7s %-7s\n", "TIME", "UID", "PID", "COMM",
                        "CAP", "NAME", "AUDIT", "VERDICT");
        std::fflush(stdout);
    }

    void print(const capable_event& event) {
        const std::string comm = fixed_string(event.comm);
        const std::string name = cap_name(event.cap);
        const char* verdict = event.ret == 0 ? "allow" : "deny";
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);

        // AUDIT and INSETID: known from the function hook only; "-" (and no JSON field) from the
        // tracepoint, which does not carry cap_capable()'s options (see --help).
        const bool opts_known = event.opts != CAPABLE_OPTS_UNKNOWN;
        const bool audit = (event.opts & CAPABLE_OPT_NOAUDIT) == 0;
        const bool insetid = (event.opts & CAPABLE_OPT_INSETID) != 0;
        if (options_.common.json) {
            nlohmann::json record = {{"ts_ns", unix_ns}, {"pid", event.pid},   {"tid", event.tid},
                                     {"uid", event.uid}, {"comm", comm},       {"cap", event.cap},
                                     {"name", name},     {"verdict", verdict}, {"ret", event.ret}};
            if (opts_known) {
                record["audit"] = audit;
                record["insetid"] = insetid;
            }
            if (options_.kernel_stack || options_.user_stack) {
                const auto stack = stack_of(event);
                if (options_.kernel_stack)
                    record["kernel_stack"] = stacks::frames_json(stack.kernel);
                if (options_.user_stack)
                    record["user_stack"] = stacks::frames_json(stack.user);
            }
            write_json_record(record);
            return;
        }
        const std::string time = clock_time(unix_ns);
        const std::string audit_text = opts_known ? (audit ? "1" : "0") : "-";
        const std::string insetid_text = opts_known ? (insetid ? "1" : "0") : "-";
        if (options_.extra)
            std::printf("%-8s %-5u %-7u %-7u %-16s %-7d %-20s %-7s %-7s %-7s\n", time.c_str(),
                        event.uid, event.pid, event.tid, comm.c_str(), event.cap, name.c_str(),
                        audit_text.c_str(), verdict, insetid_text.c_str());
        else
            std::printf("%-8s %-5u %-7u %-16s %-7d %-20s %-7s %-7s\n", time.c_str(), event.uid,
                        event.pid, comm.c_str(), event.cap, name.c_str(), audit_text.c_str(),
                        verdict);
        if (options_.kernel_stack || options_.user_stack)
            std::fputs(stacks::text_frames(stack_of(event), true).c_str(), stdout);
    }

  private:
    stacks::SymbolizedStack stack_of(const capable_event& event) {
        return stacks::symbolize(symbolizer_, bpf_map__fd(options_.stacks),
                                 static_cast<pid_t>(event.pid), event.kern_stack_id,
                                 event.user_stack_id);
    }

    const Options& options_;
    symbols::Symbolizer symbolizer_;
    KernelClock clock_;
};

int run(Options& options) {
    std::uint32_t unique = CAPABLE_UNIQUE_OFF;
    if (options.unique == "pid")
        unique = CAPABLE_UNIQUE_PID;
    else if (options.unique == "cgroup")
        unique = CAPABLE_UNIQUE_CGROUP;
    sys::require_bpf_privileges();
    options.filter.validate();
    StopSignals stop;

    auto skel = Skeleton<capable_bpf>::open();
    hooks::prefer(skel.object(), capable_hooks[0]);
    skel->rodata->my_tgid = static_cast<__u32>(::getpid());
    skel->rodata->unique_type = unique;
    skel->rodata->kernel_stacks = options.kernel_stack;
    skel->rodata->user_stacks = options.user_stack;
    // Without -K/-U nothing is stored: the map stays at one entry.
    bpf_map__set_max_entries(skel->maps.ct_stacks, options.kernel_stack || options.user_stack
                                                       ? static_cast<std::uint32_t>(options.storage)
                                                       : 1);
    options.stacks = skel->maps.ct_stacks;

    run_events<capable_event, Printer>(skel, options.filter, stop, options.common,
                                       {"Tracing security capability checks... Hit Ctrl-C to end."},
                                       options);
    return 0;
}

int capable_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace security capability checks (cap_capable()).\n\n"
        "USAGE: capable [--help] [-p PID | -c CG | -K | -U | -x] [-u TYPE] [--json]\n\n"
        "EXAMPLES:\n"
        "    capable                  # Trace capability checks\n"
        "    capable -p 185           # Trace this PID only\n"
        "    capable -K               # Add kernel stacks to trace\n"
        "    capable -x -K -U         # Extra fields, user and kernel stacks\n"
        "    capable -c CG            # Trace process under cgroup v2 path CG\n"
        "    capable -x               # Extra fields: show TID and INSETID columns\n"
        "    capable -u TYPE          # Print unique output for TYPE=[pid | cgroup] "
        "(default:off)\n"
        "    capable --json           # one JSON object per check, and a summary at the end\n\n"
        "From fexit on cap_capable() where the kernel allows fentry/fexit; otherwise from the\n"
        "capability:cap_capable tracepoint (Linux 6.13+), which does not carry cap_capable()'s\n"
        "options: AUDIT (whether the check is audited) and INSETID are then unknown and shown\n"
        "as '-' (`coretrace features` shows which hook this kernel gets). VERDICT is commoncap's\n"
        "answer, as cap_capable() returns it, before other LSMs (SELinux, AppArmor) have their\n"
        "say. Stacks (-K, -U) follow each check, innermost frame first, kernel then user.",
        "capable"};
    add_pid_option(app, options.filter, "Trace this PID only");
    add_cgroup_option(app, options.filter);
    app.add_flag("-K,--kernel-stack", options.kernel_stack, "Output kernel stack trace");
    app.add_flag("-U,--user-stack", options.user_stack, "Output user stack trace");
    app.add_option("--stack-storage-size", options.storage,
                   "The number of unique stack traces that can be stored and displayed "
                   "(default 1024)")
        ->check(CLI::Range(1L, 1L << 20));
    app.add_flag("-x,--extra-fields", options.extra, "Extra fields: show TID and INSETID columns");
    app.add_option("-u,--unique", options.unique,
                   "Print unique output for <pid> or <cgroup> (default: off)")
        ->check(CLI::IsMember({"off", "pid", "cgroup"}));
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(capable, "security capability checks and their verdicts", capable_main,
               capable_hooks);
