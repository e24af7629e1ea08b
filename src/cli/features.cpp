// `coretrace features`: what this kernel offers a tracing user, each line established by the
// probe the tools themselves use (a trial load, attach or open), never by a symbol's presence;
// the BPF sysctls explained; the caller's capabilities; and which hook each tool would use here.
#include "commands.hpp"

#include "coretrace/features.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/kernel_btf.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <linux/bpf.h>
#include <nlohmann/json.hpp>
#include <sys/utsname.h>

namespace coretrace::cli {
namespace {

struct Mechanism {
    const char* name;
    features::Support support;
};

std::vector<Mechanism> probe_mechanisms() {
    return {
        {"tracepoint", features::tracepoint("sched", "sched_switch")},
        {"raw_tp", features::raw_tracepoint("sched_switch")},
        {"tp_btf", features::tp_btf("sched_switch")},
        {"fentry", features::fentry("vfs_read")},
        {"fexit", features::fentry("vfs_read", true)},
        {"kprobe", features::kprobe()},
        {"uprobe", features::uprobe()},
        {"perf_event_software", features::perf_event_software()},
        {"perf_event_hardware", features::perf_event_hardware()},
        {"ringbuf", features::ring_buffer()},
        {"kernel_btf", features::kernel_btf()},
        {"bpf_loop", features::helper(BPF_FUNC_loop, "bpf_loop")},
    };
}

struct Sysctl {
    const char* name;
    const char* path;
    const char* meanings[3]; // for values 0, 1, 2
};
constexpr Sysctl sysctls[] = {
    {"kernel.unprivileged_bpf_disabled",
     "/proc/sys/kernel/unprivileged_bpf_disabled",
     {"unprivileged users may load BPF programs", "unprivileged BPF off until reboot",
      "unprivileged BPF off (an admin may turn it back on)"}},
    {"net.core.bpf_jit_enable",
     "/proc/sys/net/core/bpf_jit_enable",
     {"JIT off: programs are interpreted", "JIT on",
      "JIT on, with debug output to the kernel log"}},
    {"net.core.bpf_jit_harden",
     "/proc/sys/net/core/bpf_jit_harden",
     {"JIT hardening off", "constants blinded for unprivileged programs",
      "constants blinded for every program"}},
    {"net.core.bpf_jit_kallsyms",
     "/proc/sys/net/core/bpf_jit_kallsyms",
     {"JIT-ed programs hidden from /proc/kallsyms", "JIT-ed programs listed in /proc/kallsyms",
      ""}},
};

std::string lockdown_mode() {
    std::string line = sys::read_first_line("/sys/kernel/security/lockdown");
    auto open = line.find('['), close = line.find(']');
    if (open == std::string::npos || close == std::string::npos)
        return "unknown (no /sys/kernel/security/lockdown)";
    return line.substr(open + 1, close - open - 1);
}

int run(const CommonOptions& common) {
    sys::require_bpf_privileges();
    utsname names{};
    ::uname(&names);
    auto mechanisms = probe_mechanisms();

    nlohmann::json tools_json = nlohmann::json::object();
    // Per tool and event, the candidates preferred to the one used and why this kernel refused
    // them: where a tool falls back (JSON only; the text table keeps one line per event).
    nlohmann::json passed_over_json = nlohmann::json::object();
    std::string tools_text;
    for (const auto& tool : tools()) {
        // A tool with two paths (hooks::prefer_path): the events of the path it would not take
        // here are not used, and on the tracepoint path its events' function hooks are not.
        const bool paths = std::any_of(tool.hooks.begin(), tool.hooks.end(),
                                       [](const auto& e) { return e.path != hooks::Path::both; });
        bool function_path = false;
        if (paths) {
            try {
                function_path = hooks::function_path_here(tool.hooks);
            } catch (const std::exception&) { // the first event cannot run: said below
            }
        }
        for (const auto& need : tool.hooks) {
            std::string verdict;
            if (paths &&
                need.path == (function_path ? hooks::Path::tracepoint : hooks::Path::function)) {
                tools_text +=
                    fmt::format("  {:<12} {:<18} not used here (the {} path is)\n", tool.name,
                                need.event, function_path ? "function-hook" : "tracepoint");
                continue;
            }
            try {
                auto choice = hooks::choose(need.event, need.hooks(), hooks::kernel_prober());
                if (paths && !function_path && hooks::function_hook(choice.hook.describe()))
                    choice.hook = hooks::choose(need.event, need.tracepoint_hooks(),
                                                hooks::kernel_prober())
                                      .hook; // as prefer_path does on the tracepoint path
                verdict = choice.hook.describe();
                tools_json[std::string(tool.name)][std::string(need.event)] = verdict;
                for (const auto& [hook, reason] : choice.passed_over)
                    passed_over_json[std::string(tool.name)][std::string(need.event)].push_back(
                        {{"hook", hook.describe()}, {"reason", reason}});
                verdict = "uses " + verdict;
            } catch (const std::exception& e) {
                tools_json[std::string(tool.name)][std::string(need.event)] = nullptr;
                verdict =
                    std::string(need.optional ? "not traced here: " : "cannot run: ") + e.what();
            }
            tools_text += fmt::format("  {:<12} {:<18} {}\n", tool.name, need.event, verdict);
        }
    }

    constexpr int cap_sys_admin = 21, cap_sys_resource = 24, cap_perfmon = 38, cap_bpf = 39;
    const std::pair<const char*, int> caps[] = {{"CAP_BPF", cap_bpf},
                                                {"CAP_PERFMON", cap_perfmon},
                                                {"CAP_SYS_ADMIN", cap_sys_admin},
                                                {"CAP_SYS_RESOURCE", cap_sys_resource}};

    if (common.json) {
        nlohmann::json out;
        out["kernel"] = names.release;
        out["lockdown"] = lockdown_mode();
        for (const auto& m : mechanisms)
            out["mechanisms"][m.name] = {{"supported", m.support.ok}, {"reason", m.support.reason}};
        for (const auto& s : sysctls) {
            std::string value = sys::read_first_line(s.path);
            out["sysctls"][s.name] =
                value.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::stoi(value));
        }
        for (const auto& [name, cap] : caps)
            out["capabilities"][name] = sys::has_capability(cap);
        out["tools"] = tools_json;
        out["passed_over"] = passed_over_json;
        emit_json_line(out.dump());
        return 0;
    }

    std::string text =
        fmt::format("Kernel {} ({}), lockdown: {}\n\nMechanisms (each tested by a trial "
                    "load, attach or open, not by symbol names):\n",
                    names.release, names.machine, lockdown_mode());
    for (const auto& m : mechanisms)
        text += fmt::format("  {:<20} {:<4} {}\n", m.name, m.support.ok ? "yes" : "no",
                            m.support.reason);
    text += "\nBPF sysctls:\n";
    for (const auto& s : sysctls) {
        std::string value = sys::read_first_line(s.path);
        int v = value.empty() ? -1 : std::stoi(value);
        text += fmt::format("  {:<34} {:<3} {}\n", s.name, value.empty() ? "?" : value,
                            v >= 0 && v <= 2 ? s.meanings[v] : "unreadable");
    }
    text += "\nCapabilities of the caller (effective):\n ";
    for (const auto& [name, cap] : caps)
        text += fmt::format(" {} {}", name, sys::has_capability(cap) ? "yes" : "no");
    text += "\n\nTools (the hook each would use here, in its order of preference):\n" + tools_text;
    std::fputs(text.c_str(), stdout);
    return 0;
}

} // namespace

int features_main(int argc, char** argv) {
    CommonOptions common;
    CLI::App app{
        "What this kernel offers to a tracing user: mechanisms, BPF sysctls, the caller's\n"
        "capabilities and the hook each coretrace tool would use here.",
        "features"};
    add_common_options(app, common, false);
    return run_tool(app, argc, argv, common, [&] { return run(common); });
}

} // namespace coretrace::cli
