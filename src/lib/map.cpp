// Size and type checks for the typed map views.
#include "coretrace/map.hpp"

#include <fmt/format.h>

namespace coretrace::detail {

void check_map(const bpf_map* map, std::initializer_list<bpf_map_type> types, size_t key_size,
               size_t value_size) {
    if (!map)
        throw Error("a typed map view was given no map");
    const char* name = bpf_map__name(map);
    bool type_ok = false;
    for (auto type : types)
        type_ok = type_ok || bpf_map__type(map) == type;
    if (!type_ok)
        throw Error(fmt::format("map {} has type {}, not the one its view expects", name,
                                libbpf_bpf_map_type_str(bpf_map__type(map))));
    if (bpf_map__key_size(map) != key_size || bpf_map__value_size(map) != value_size)
        throw Error(fmt::format("map {}: key/value are {}/{} bytes in BPF but {}/{} in C++", name,
                                bpf_map__key_size(map), bpf_map__value_size(map), key_size,
                                value_size));
}

int possible_cpus() {
    static const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0)
        throw Error("cannot tell how many CPUs are possible", -cpus);
    return cpus;
}

} // namespace coretrace::detail
