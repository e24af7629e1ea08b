// hook_check: the library's hook choice on the running kernel, end to end. For three events it
// lists fentry, kprobe and tracepoint candidates as a tool would, lets hooks::prefer keep one,
// loads and attaches it, makes the event happen a known number of times in this thread and
// checks both the choice (and why earlier candidates were passed over) and the exact count.
//
//   hook_check [--expect preferred|fallback|auto] [-v]
//
// preferred: the kernel has fentry and kprobes (the second kernel, in qemu): fentry where the
// function has BTF, a kprobe where it has not (ESRCH), a tracepoint past a kprobe on a missing
// function (ENOENT). fallback: neither fentry nor kprobes (our machines): tracepoints, passed-over
// reasons naming EPERM and the missing kprobes. auto: decides from the mechanism probes. Static,
// like coretrace, so that it runs in the VM's initramfs. Exit 0 when every check passes.
#include "hook_check.skel.h"

#include "coretrace/error.hpp"
#include "coretrace/features.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/log.hpp"
#include "coretrace/skeleton.hpp"

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace coretrace;

constexpr std::string_view getpid_sections[] = {
    "fentry/__x64_sys_getpid", "kprobe/__x64_sys_getpid", "tp/syscalls/sys_enter_getpid"};
constexpr std::string_view openat_sections[] = {"fentry/do_sys_openat2", "kprobe/do_sys_openat2",
                                                "tp/syscalls/sys_enter_openat"};
constexpr std::string_view getppid_sections[] = {"kprobe/coretrace_no_such_function",
                                                 "tp/syscalls/sys_enter_getppid"};
constexpr hooks::EventHooks getpid_hooks{"getpid(2)", getpid_sections};
constexpr hooks::EventHooks openat_hooks{"openat(2)", openat_sections};
constexpr hooks::EventHooks getppid_hooks{"getppid(2)", getppid_sections};

constexpr int calls = 7;

// What one event must show: the chosen hook and, for each passed-over candidate in order, a
// piece of text its reason must contain.
struct Expectation {
    const hooks::EventHooks* event;
    std::string chosen;
    std::vector<std::string> reasons;
};

std::vector<Expectation> expectations(bool preferred) {
    if (preferred)
        return {
            {&getpid_hooks, "kprobe/__x64_sys_getpid", {"ESRCH"}},
            {&openat_hooks, "fentry/do_sys_openat2", {}},
            {&getppid_hooks, "tp/syscalls/sys_enter_getppid", {"ENOENT"}},
        };
    return {
        {&getpid_hooks, "tp/syscalls/sys_enter_getpid", {"ESRCH", "no kprobes"}},
        {&openat_hooks, "tp/syscalls/sys_enter_openat", {"EPERM", "no kprobes"}},
        {&getppid_hooks, "tp/syscalls/sys_enter_getppid", {"no kprobes"}},
    };
}

int failures = 0;
void check(bool ok, const std::string& what) {
    std::printf("hook_check: %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    if (!ok)
        failures++;
}

int run(const std::string& mode) {
    bool preferred;
    if (mode == "auto") {
        bool fentry = static_cast<bool>(features::fentry("vfs_read"));
        bool kprobe = static_cast<bool>(features::kprobe());
        if (fentry != kprobe) {
            std::printf("hook_check: skipped: fentry %s but kprobes %s; this check wants both or "
                        "neither\n",
                        fentry ? "works" : "does not", kprobe ? "work" : "do not");
            return 77;
        }
        preferred = fentry;
    } else if (mode == "preferred" || mode == "fallback") {
        preferred = mode == "preferred";
    } else {
        std::fprintf(stderr, "hook_check: --expect takes preferred, fallback or auto\n");
        return 2;
    }
    std::printf("hook_check: expecting the %s hooks\n", preferred ? "preferred" : "fallback");

    auto skel = Skeleton<hook_check_bpf>::open();
    skel->rodata->target_tid = static_cast<__u32>(::gettid());
    auto wanted = expectations(preferred);
    for (const auto& want : wanted) {
        auto choice = hooks::choose(want.event->event, want.event->hooks(), hooks::kernel_prober());
        for (const auto& [hook, reason] : choice.passed_over)
            std::printf("hook_check:      %s: passed over %s: %s\n",
                        std::string(want.event->event).c_str(), hook.describe().c_str(),
                        reason.c_str());
        check(choice.hook.describe() == want.chosen,
              fmt::format("{}: chose {} (want {})", want.event->event, choice.hook.describe(),
                          want.chosen));
        bool reasons_ok = choice.passed_over.size() == want.reasons.size();
        for (std::size_t i = 0; reasons_ok && i < want.reasons.size(); i++)
            reasons_ok = choice.passed_over[i].second.find(want.reasons[i]) != std::string::npos;
        std::string listed;
        for (const auto& r : want.reasons)
            listed += (listed.empty() ? "" : ", ") + r;
        check(reasons_ok, fmt::format("{}: {} candidate(s) passed over, reasons naming [{}]",
                                      want.event->event, choice.passed_over.size(), listed));
        hooks::prefer(skel.object(), *want.event); // the tools' path: autoload the chosen one
    }
    skel.load();
    skel.attach();
    // Attaching a tracepoint opens its tracefs id file, seen by the programs attached before it:
    // count from here.
    const __u64 before[] = {skel->bss->getpid_calls, skel->bss->openat_calls,
                            skel->bss->getppid_calls};

    for (int i = 0; i < calls; i++) {
        ::syscall(SYS_getpid);
        long fd = ::syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            ::close(static_cast<int>(fd));
        ::syscall(SYS_getppid);
    }
    skel.detach();
    const std::pair<const char*, __u64> counts[] = {
        {"getpid(2)", skel->bss->getpid_calls - before[0]},
        {"openat(2)", skel->bss->openat_calls - before[1]},
        {"getppid(2)", skel->bss->getppid_calls - before[2]}};
    for (const auto& [event, count] : counts)
        check(count == calls, fmt::format("{}: {} calls seen (made {})", event, count, calls));
    std::printf("hook_check: %s\n", failures ? "FAILED" : "PASSED");
    return failures ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
    std::string mode = "auto";
    for (int i = 1; i < argc; i++) {
        std::string arg = argv[i];
        if (arg == "-v") {
            log::set_verbose(true);
        } else if (arg == "--expect" && i + 1 < argc) {
            mode = argv[++i];
        } else {
            std::fprintf(stderr, "usage: hook_check [--expect preferred|fallback|auto] [-v]\n");
            return 2;
        }
    }
    try {
        return run(mode);
    } catch (const std::exception& e) {
        std::printf("hook_check: FAIL %s\n", e.what());
        return 1;
    }
}
