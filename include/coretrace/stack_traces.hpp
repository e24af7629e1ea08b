// Stacks recorded by BPF programs into a BPF_MAP_TYPE_STACK_TRACE map (bpf_get_stackid): read by
// id, with the frames of the tracing machinery itself (the BPF program, the tracepoint or
// trampoline that ran it, the perf event's interrupt entry) left out of kernel stacks so that a
// stack begins where the traced code was.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace coretrace::stacks {

// The addresses of stack `id` in the stack map `map_fd`, innermost first (zero entries cut).
// Empty when id < 0 (bpf_get_stackid failed: -EFAULT no user stack, -EEXIST/-ENOMEM the map was
// full) or the id is no longer in the map.
std::vector<std::uint64_t> read(int map_fd, std::int64_t id);

// True for a kernel function that belongs to the tracing path rather than to the traced code:
// bpf_prog_*, bpf_trace_run*, __bpf_trace_*, __traceiter_*, bpf_trampoline_*, perf_* sampling.
bool is_tracing_frame(std::string_view function);

} // namespace coretrace::stacks
