#include "collector.hpp"

#include "coretrace/error.hpp"
#include "coretrace/inet_address.hpp"

#include <algorithm>
#include <bpf/bpf.h>
#include <charconv>

#include <cerrno>
#include <fmt/format.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

namespace coretrace::exporter {

namespace {

using Factory = std::unique_ptr<Collector> (*)(const CollectorSettings&);

constexpr OptionSpec cgroup_option{"cgroup", OptionKind::text,
                                   "count the tasks of this cgroup v2 only (in the kernel)"};

constexpr OptionSpec cgroup_only[] = {cgroup_option};
constexpr OptionSpec cpudist_options[] = {
    cgroup_option, {"offcpu", OptionKind::flag, "off-CPU time instead (cpudist -O)"}};
constexpr OptionSpec biolatency_options[] = {
    cgroup_option,
    {"queued", OptionKind::flag, "include the time queued in the kernel (biolatency -Q)"}};
constexpr OptionSpec syscount_options[] = {
    cgroup_option, {"failures", OptionKind::flag, "count failed calls only (syscount -x)"}};
constexpr OptionSpec tcpconnect_options[] = {
    cgroup_option,
    {"ports", OptionKind::ports, "count connects to these destination ports only (-P)"},
    {"dport", OptionKind::flag, "label the counts with the destination port"}};
constexpr OptionSpec tcplife_options[] = {
    {"lports", OptionKind::ports, "sessions with these local ports only (-L)"},
    {"rports", OptionKind::ports, "sessions with these remote ports only (-D)"}};
constexpr OptionSpec irqs_options[] = {
    cgroup_option, {"dist", OptionKind::flag, "a histogram of the time per run (hardirqs -d)"}};
constexpr OptionSpec softirqs_options[] = {
    {"dist", OptionKind::flag, "a histogram of the time per run (softirqs -d)"},
    {"cpu", OptionKind::number, "this CPU only (softirqs -c)", 0, 65535}};
constexpr OptionSpec synthetic_options[] = {
    {"series", OptionKind::number, "counter series to serve (benchmarks only)", 1, 1000000}};

struct Entry {
    std::string_view name;
    Factory make;
    std::span<const OptionSpec> options;
};

constexpr Entry entries[] = {
    {"cpudist", make_cpudist_collector, cpudist_options},
    {"runqlat", make_runqlat_collector, cgroup_only},
    {"biolatency", make_biolatency_collector, biolatency_options},
    {"syscount", make_syscount_collector, syscount_options},
    {"execsnoop", make_execsnoop_collector, cgroup_only},
    {"tcpconnect", make_tcpconnect_collector, tcpconnect_options},
    {"tcplife", make_tcplife_collector, tcplife_options},
    {"hardirqs", make_hardirqs_collector, irqs_options},
    {"softirqs", make_softirqs_collector, softirqs_options},
    {"oomkill", make_oomkill_collector, {}},
    {"synthetic", make_synthetic_collector, synthetic_options},
};

constexpr std::string_view names[] = {"cpudist",   "runqlat",    "biolatency", "syscount",
                                      "execsnoop", "tcpconnect", "tcplife",    "hardirqs",
                                      "softirqs",  "oomkill",    "synthetic"};
// The synthetic collector (the last) only runs when named.
constexpr std::span<const std::string_view> default_names{names, std::size(names) - 1};

const Entry& entry_of(std::string_view tool) {
    for (const auto& entry : entries)
        if (entry.name == tool)
            return entry;
    throw Error(
        fmt::format("no collector for '{}' (the exporter runs: {})", tool, fmt::join(names, ", ")));
}

std::string option_keys(const Entry& entry) {
    if (entry.options.empty())
        return "it has none";
    std::vector<std::string_view> keys;
    for (const auto& option : entry.options)
        keys.push_back(option.key);
    return fmt::format("it has: {}", fmt::join(keys, ", "));
}

// The skeleton's global data (.rodata, .bss: "NAME.bss") and the library's plumbing (the ring
// buffer and its scratch record, the cgroup filter): not what the tool counts in.
bool is_internal(const bpf_map* map) {
    const std::string_view name = bpf_map__name(map);
    return name.find('.') != std::string_view::npos || name.starts_with("ct_events") ||
           name == "ct_cgroup_filter";
}
} // namespace

void Collector::record_programs(const bpf_object* object) {
    bpf_program* program;
    bpf_object__for_each_program(program, object) {
        if (bpf_program__autoload(program))
            programs_.push_back({bpf_program__name(program), bpf_program__section_name(program)});
    }
    bpf_map* map;
    bpf_object__for_each_map(map, object) {
        if (is_internal(map) || bpf_map__fd(map) < 0)
            continue;
        maps_.push_back({bpf_map__name(map), bpf_map__fd(map), bpf_map__type(map),
                         bpf_map__key_size(map), bpf_map__max_entries(map)});
    }
}

std::uint64_t map_entries(const LoadedMap& map) {
    switch (map.type) {
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
        break;
    default:
        return map.max_entries; // arrays: every entry exists
    }
    // Two key buffers, alternated: get_next_key reads one and writes the other.
    std::vector<unsigned char> keys(2 * std::max<std::uint32_t>(map.key_size, 1));
    unsigned char* previous = nullptr;
    unsigned char* next = keys.data();
    std::uint64_t count = 0;
    while (bpf_map_get_next_key(map.fd, previous, next) == 0) {
        count++;
        previous = next;
        next = next == keys.data() ? keys.data() + keys.size() / 2 : keys.data();
        if (count > map.max_entries) // a walk restarted by deletions: stop at the bound
            break;
    }
    return std::min<std::uint64_t>(count, map.max_entries);
}

std::string family_label(int family) {
    return fmt::format("ipv{}", inet::ip_version(family));
}

std::function<void(bpf_object*)> pin_maps(const CollectorSettings& settings,
                                          std::string_view prefix, std::vector<std::string> maps) {
    if (settings.pin_dir.empty())
        return {};
    return [dir = settings.pin_dir, tool = std::string(prefix),
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
    filter.cgroup_path = settings.options.text("cgroup");
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

std::span<const std::string_view> default_collector_names() {
    return default_names;
}

std::span<const OptionSpec> collector_options(std::string_view tool) {
    return entry_of(tool).options;
}

void set_option(std::string_view tool, std::string_view key, std::string_view value,
                ToolOptions& options) {
    const Entry& entry = entry_of(tool);
    const auto spec = std::find_if(entry.options.begin(), entry.options.end(),
                                   [&](const OptionSpec& option) { return option.key == key; });
    if (spec == entry.options.end())
        throw Error(fmt::format("{}: no option '{}' ({})", tool, key, option_keys(entry)));
    auto bad = [&](std::string_view expected) {
        return Error(fmt::format("{}: option '{}' takes {}, not '{}'", tool, key, expected, value));
    };
    std::string normal(value);
    switch (spec->kind) {
    case OptionKind::flag:
        if (value.empty() || value == "true" || value == "yes" || value == "1")
            normal = "true";
        else if (value == "false" || value == "no" || value == "0")
            normal = "false";
        else
            throw bad("no value (or true, false)");
        break;
    case OptionKind::text:
        if (value.empty())
            throw Error(fmt::format("{}: option '{}' needs a value ({}={})", tool, key, key,
                                    spec->key == "cgroup" ? "/sys/fs/cgroup/PATH" : "TEXT"));
        break;
    case OptionKind::number: {
        long number = 0;
        const auto [end, error] =
            std::from_chars(value.data(), value.data() + value.size(), number);
        if (value.empty() || error != std::errc() || end != value.data() + value.size() ||
            number < spec->least || number > spec->most)
            throw bad(fmt::format("a number from {} to {}", spec->least, spec->most));
        normal = std::to_string(number);
        break;
    }
    case OptionKind::ports:
        try {
            inet::parse_ports(value, inet::max_ports);
        } catch (const std::exception& e) {
            throw Error(fmt::format("{}: option '{}': {}", tool, key, e.what()));
        }
        if (value.empty())
            throw bad("a list of ports (80,443)");
        break;
    }
    options.values[std::string(key)] = normal;
}

std::unique_ptr<Collector> make_collector(std::string_view tool,
                                          const CollectorSettings& settings) {
    return entry_of(tool).make(settings);
}

} // namespace coretrace::exporter
