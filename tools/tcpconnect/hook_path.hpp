// The choice between two hook "paths" for the TCP/IP tools (tcpconnect, tcpconnlat, tcptracer,
// bindsnoop): libbpf-tools' function hooks (fentry/fexit/kprobe) where the kernel allows them,
// else the tracepoints. Unlike one event per row, a path replaces a set of programs by another
// (fexit/tcp_v4_connect + fexit/tcp_v6_connect instead of inet_sock_set_state + connect(2)'s
// exit), so the two sets must not be mixed: the first row of the table decides, and each row
// says to which path it belongs. A row of both paths lists its function hook(s) first, then the
// tracepoint the other path uses for it (several rows may share one tracepoint program).
//
// Candidate for hooks.hpp (hooks::prefer_path); kept here for now, used by the four tools.
#pragma once

#include "coretrace/error.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/log.hpp"

#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <span>
#include <string_view>
#include <vector>

namespace coretrace::hook_path {

enum class Path { both, function, tracepoint };

inline bool is_function_hook(std::string_view section) {
    switch (hooks::Hook::from_section(section).kind) {
    case hooks::Kind::fentry:
    case hooks::Kind::fexit:
    case hooks::Kind::kprobe:
    case hooks::Kind::kretprobe:
        return true;
    default:
        return false;
    }
}

inline bool is_function_hook(const bpf_program* program) {
    return is_function_hook(bpf_program__section_name(program));
}

// Keeps the programs of one path: `table[i]` belongs to `paths[i]`; table[0] must be a `both`
// row, whose choice decides. Returns true for the function-hook path. Throws Error (one line)
// when the function path was chosen but a later `both` row can only use its tracepoint (a row
// of the function path alone may be a tracepoint: tcpconnlat's tcp_destroy_sock).
inline bool prefer_path(bpf_object* object, std::span<const hooks::EventHooks> table,
                        std::span<const Path> paths) {
    const bpf_program* first = hooks::prefer(object, table[0]);
    const bool function = is_function_hook(first);
    const Path other = function ? Path::tracepoint : Path::function;
    // Rows of the other path first: their programs are not shared with the rows kept.
    for (std::size_t i = 1; i < table.size(); i++)
        if (paths[i] == other)
            hooks::skip(object, table[i]);
    for (std::size_t i = 1; i < table.size(); i++) {
        if (paths[i] == other)
            continue;
        bpf_program* chosen = hooks::prefer(object, table[i]);
        if (function && paths[i] == Path::both && !is_function_hook(chosen))
            throw Error(fmt::format(
                "{} uses {} but {} can only use {}: not loading a mix of function hooks and "
                "tracepoints (CORETRACE_DISABLE=fentry,kprobe selects the tracepoints)",
                table[0].event, bpf_program__section_name(first), table[i].event,
                bpf_program__section_name(chosen)));
        if (function || !is_function_hook(chosen))
            continue;
        // Tracepoint path, but this row's function hook works (the first row's did not): use
        // the row's tracepoint, as the rest of the path does.
        std::vector<std::string_view> functions, tracepoints;
        for (std::string_view section : table[i].sections)
            (is_function_hook(section) ? functions : tracepoints).push_back(section);
        hooks::skip(object, {table[i].event, functions});
        log::debug("{}: not using {}: {} uses the tracepoints", table[i].event,
                   bpf_program__section_name(chosen), table[0].event);
        hooks::prefer(object, {table[i].event, tracepoints});
    }
    return function;
}

} // namespace coretrace::hook_path
