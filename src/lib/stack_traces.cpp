// Reading BPF stack trace maps (see stack_traces.hpp).
#include "coretrace/stack_traces.hpp"

#include <algorithm>
#include <array>
#include <bpf/bpf.h>
#include <linux/bpf.h>

namespace coretrace::stacks {

std::vector<std::uint64_t> read(int map_fd, std::int64_t id) {
    std::vector<std::uint64_t> addresses;
    if (id < 0 || map_fd < 0)
        return addresses;
    bpf_map_info info{};
    __u32 length = sizeof(info);
    if (bpf_obj_get_info_by_fd(map_fd, &info, &length) != 0 || info.value_size == 0)
        return addresses;
    addresses.resize(info.value_size / sizeof(std::uint64_t));
    const auto key = static_cast<std::uint32_t>(id);
    if (bpf_map_lookup_elem(map_fd, &key, addresses.data()) != 0) {
        addresses.clear();
        return addresses;
    }
    const auto end = std::find(addresses.begin(), addresses.end(), 0);
    addresses.erase(end, addresses.end());
    return addresses;
}

bool is_tracing_frame(std::string_view function) {
    static constexpr std::array<std::string_view, 9> prefixes = {
        "bpf_prog_",           "bpf_trace_run", "__bpf_trace_",          "__traceiter_",
        "bpf_trampoline_",     "perf_trace_",   "__perf_event_overflow", "perf_swevent_hrtimer",
        "bpf_overflow_handler"};
    for (auto prefix : prefixes)
        if (function.starts_with(prefix))
            return true;
    return false;
}

} // namespace coretrace::stacks
