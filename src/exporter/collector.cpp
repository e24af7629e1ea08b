#include "collector.hpp"

#include "coretrace/error.hpp"

#include <cerrno>
#include <fmt/format.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

namespace coretrace::exporter {

namespace {

using Factory = std::unique_ptr<Collector> (*)(const CollectorSettings&);

struct Entry {
    std::string_view name;
    Factory make;
};

constexpr Entry entries[] = {
    {"cpudist", make_cpudist_collector},       {"runqlat", make_runqlat_collector},
    {"biolatency", make_biolatency_collector}, {"syscount", make_syscount_collector},
    {"execsnoop", make_execsnoop_collector},
};

constexpr std::string_view names[] = {"cpudist", "runqlat", "biolatency", "syscount", "execsnoop"};

} // namespace

void Collector::record_programs(const bpf_object* object) {
    bpf_program* program;
    bpf_object__for_each_program(program, object) {
        if (bpf_program__autoload(program))
            programs_.push_back({bpf_program__name(program), bpf_program__section_name(program)});
    }
}

std::function<void(bpf_object*)> pin_maps(const CollectorSettings& settings, std::string_view tool,
                                          std::vector<std::string> maps) {
    if (settings.pin_dir.empty())
        return {};
    return [dir = settings.pin_dir, tool = std::string(tool),
            maps = std::move(maps)](bpf_object* object) {
        for (const auto& name : maps) {
            bpf_map* map = bpf_object__find_map_by_name(object, name.c_str());
            if (!map)
                throw Error(fmt::format("{}: no map '{}' to pin", tool, name));
            const std::string path = fmt::format("{}/{}_{}", dir, tool, name);
            check_libbpf(bpf_map__set_pin_path(map, path.c_str()),
                         fmt::format("pinning {} at {}", name, path));
        }
    };
}

TaskFilter cgroup_filter(const CollectorSettings& settings) {
    TaskFilter filter;
    filter.cgroup_path = settings.cgroup;
    filter.validate();
    return filter;
}

void restrict_pins(const bpf_object* object) {
    bpf_map* map;
    bpf_object__for_each_map(map, object) {
        const char* path = bpf_map__pin_path(map);
        if (path && bpf_map__is_pinned(map) && chmod(path, 0600) != 0)
            throw_system_error(fmt::format("chmod {}", path), errno);
    }
}

void check_pin_dir(const std::string& dir) {
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw_system_error(fmt::format("--pin: cannot create {}", dir), errno);
    struct statfs fs {};
    if (statfs(dir.c_str(), &fs) != 0)
        throw_system_error(fmt::format("--pin: {}", dir), errno);
    if (static_cast<unsigned long>(fs.f_type) != BPF_FS_MAGIC)
        throw Error(fmt::format("--pin: {} is not on a BPF file system (mount -t bpf bpf "
                                "/sys/fs/bpf)",
                                dir));
}

std::span<const std::string_view> collector_names() {
    return names;
}

std::unique_ptr<Collector> make_collector(std::string_view tool,
                                          const CollectorSettings& settings) {
    for (const auto& entry : entries)
        if (entry.name == tool)
            return entry.make(settings);
    throw Error(
        fmt::format("no collector for '{}' (the exporter runs: {})", tool, fmt::join(names, ", ")));
}

} // namespace coretrace::exporter
