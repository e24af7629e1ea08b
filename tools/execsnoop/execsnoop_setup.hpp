// execsnoop's kernel side, opened and configured (not loaded: the event tool loads it with its
// stream, run_events): the skeleton, its execve/execveat/sched_process_exec hooks chosen and
// .rodata written. Shared by the execsnoop tool and the exporter (src/exporter/).
#pragma once

#include "execsnoop.skel.h"
#include "execsnoop.h"

#include "coretrace/error.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/log.hpp"
#include "coretrace/skeleton.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace coretrace::execsnoop {

inline constexpr std::string_view execve_enter[] = {"tp/syscalls/sys_enter_execve"};
inline constexpr std::string_view execve_exit[] = {"tp/syscalls/sys_exit_execve"};
inline constexpr std::string_view execve_exit_l[] = {"tracepoint/syscalls/sys_exit_execve"};
inline constexpr std::string_view execveat_enter[] = {"tp/syscalls/sys_enter_execveat"};
inline constexpr std::string_view execveat_exit[] = {"tp/syscalls/sys_exit_execveat"};
inline constexpr std::string_view execveat_exit_l[] = {"tracepoint/syscalls/sys_exit_execveat"};
inline constexpr std::string_view exec_sections[] = {"raw_tp/sched_process_exec",
                                                     "tp/sched/sched_process_exec"};
enum Event {
    EXECVE_ENTER,
    EXECVE_EXIT,
    EXECVE_EXIT_L,
    EXECVEAT_ENTER,
    EXECVEAT_EXIT,
    EXECVEAT_EXIT_L,
    PROCESS_EXEC
};
inline constexpr hooks::EventHooks hook_table[] = {
    {"execve(2) entry", execve_enter},
    {"execve(2) exit", execve_exit},
    {"execve(2) exit, with -l", execve_exit_l},
    {"execveat(2) entry", execveat_enter},
    {"execveat(2) exit", execveat_exit},
    {"execveat(2) exit, with -l", execveat_exit_l},
    {"sched_process_exec (exec by a thread)", exec_sections},
};

// Chooses the entry and exit programs of one system call; with -l the exit that matches the
// line. A missing execveat(2) (before Linux 3.19) is left out; a missing execve(2) is an error.
inline bool trace_syscall(bpf_object* object, Event enter, bool line, bool required) {
    const auto& exit = hook_table[enter + 1];
    const auto& exit_l = hook_table[enter + 2];
    try {
        hooks::prefer(object, hook_table[enter]);
        hooks::prefer(object, line ? exit_l : exit);
        hooks::skip(object, line ? exit : exit_l);
        return true;
    } catch (const Error& e) {
        if (required)
            throw;
        for (int i = 0; i < 3; i++)
            hooks::skip(object, hook_table[enter + i]);
        log::debug("{}: not traced: {}", hook_table[enter].event, e.what());
        return false;
    }
}

// -l's automaton: from state s (s bytes of the pattern matched) and a byte, the next state.
// Reaching pattern.size() means the pattern occurs; a NUL (between two arguments) resets it.
inline std::vector<std::uint8_t> line_automaton(const std::string& pattern) {
    const std::size_t m = pattern.size();
    std::vector<std::uint8_t> dfa(EXECSNOOP_DFA_SIZE, 0);
    auto at = [&](std::size_t state, unsigned char byte) -> std::uint8_t& {
        return dfa[state * 256 + byte];
    };
    at(0, pattern[0]) = 1;
    std::size_t fallback = 0; // the state after the longest proper suffix that is a prefix
    for (std::size_t s = 1; s < m; s++) {
        for (unsigned c = 0; c < 256; c++)
            at(s, static_cast<unsigned char>(c)) = at(fallback, static_cast<unsigned char>(c));
        at(s, pattern[s]) = static_cast<std::uint8_t>(s + 1);
        fallback = at(fallback, pattern[s]);
    }
    return dfa;
}

struct Settings {
    bool failed = false;                   // -x: failed calls too
    int max_args = EXECSNOOP_DEFAULT_ARGS; // --max-args
    std::string name;                      // -n: comm contains
    std::string line; // -l: an argument contains (needs bpf_loop: the caller checks)
};

inline Skeleton<execsnoop_bpf> open(const Settings& settings) {
    const bool line = !settings.line.empty();
    auto skel = Skeleton<execsnoop_bpf>::open();
    trace_syscall(skel.object(), EXECVE_ENTER, line, true);
    trace_syscall(skel.object(), EXECVEAT_ENTER, line, false);
    try {
        hooks::prefer(skel.object(), hook_table[PROCESS_EXEC]);
    } catch (const Error& e) {
        hooks::skip(skel.object(), hook_table[PROCESS_EXEC]);
        log::debug("exec by a thread other than the leader will be missed: {}", e.what());
    }

    skel->rodata->targ_failed_too = settings.failed;
    skel->rodata->targ_max_args = static_cast<__u32>(settings.max_args);
    std::memcpy(const_cast<char*>(skel->rodata->targ_name), settings.name.data(),
                settings.name.size());
    skel->rodata->targ_name_len = static_cast<__u32>(settings.name.size());
    if (line) {
        const auto dfa = line_automaton(settings.line);
        std::memcpy(const_cast<__u8*>(skel->rodata->targ_line_dfa), dfa.data(), dfa.size());
        skel->rodata->targ_line_len = static_cast<__u32>(settings.line.size());
    }
    return skel;
}

} // namespace coretrace::execsnoop
