// The exporter's collectors: one per tool, each running that tool's BPF object system-wide with
// the tool's own set-up (tools/NAME/NAME_setup.hpp: hooks::prefer, TaskFilter, Skeleton) and, at
// each scrape, reading the tool's maps (nothing is read on a timer, nothing is cleared: every
// count is cumulative from the exporter's start) and writing them as metric families.
//
// An event tool (execsnoop, tcpconnect, tcplife, oomkill) has no map to read: its collector
// drains the tool's ring buffer on a thread of its own (event_pump.hpp) and keeps the counts in
// user space, under the same series cap as the exposition (capped_counts.hpp). Everything a
// collector loads is released when it is destroyed.
#pragma once

#include "coretrace/exposition.hpp"
#include "coretrace/task_filter.hpp"

#include <bpf/libbpf.h>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace coretrace::exporter {

// A program a collector loaded and attached, and the hook it chose (its libbpf section name).
struct AttachedProgram {
    std::string program;
    std::string hook;
};

// A map a collector's BPF object created, for the map size self-metrics.
struct LoadedMap {
    std::string name;
    int fd = -1;            // owned by the collector's object
    std::uint32_t type = 0; // BPF_MAP_TYPE_*
    std::uint32_t key_size = 0;
    std::uint32_t max_entries = 0;
};

// The entries of a hash map now (walked with get_next_key); max_entries for an array.
std::uint64_t map_entries(const LoadedMap& map);

// A tool's options (TOOL:KEY[=VALUE]... on the command line, the tool's mapping in the YAML
// configuration), checked against the tool's OptionSpecs when given (option_spec.cpp): a flag
// holds "true" or "false", a number its decimal digits, ports "80,443".
struct ToolOptions {
    std::map<std::string, std::string, std::less<>> values;

    bool flag(std::string_view key) const { return text(key) == "true"; }
    std::string text(std::string_view key) const {
        auto it = values.find(key);
        return it == values.end() ? std::string() : it->second;
    }
    long number(std::string_view key, long otherwise) const {
        auto it = values.find(key);
        return it == values.end() ? otherwise : std::stol(it->second);
    }
};

struct CollectorSettings {
    // Series kept per metric family (the exposition's cap, also the size of user-space tables).
    std::size_t max_series = 1000;
    // --pin: a bpffs directory where the aggregating maps are pinned (DIR/TOOL_MAP, mode 0600)
    // and, when already there, reused: a restarted exporter continues their counts. Empty: no
    // pins, nothing outlives the process.
    std::string pin_dir;
    // The tool's options; `cgroup` (a cgroup v2 path: the tool counts the tasks in it only)
    // for the tools that have it.
    ToolOptions options;
};

// The tool's kernel filter for the `cgroup` option, validated (a one-line Error for a bad path).
TaskFilter cgroup_filter(const CollectorSettings& settings);

// For a tool's set-up (its `before_load`): pins `maps` of the object under settings.pin_dir, as
// DIR/PREFIX_MAP (PREFIX: the tool's name, plus the options that change what its maps count);
// does nothing without --pin.
std::function<void(bpf_object*)> pin_maps(const CollectorSettings& settings,
                                          std::string_view prefix, std::vector<std::string> maps);
// After load: makes the object's pins readable and writable by their owner only.
void restrict_pins(const bpf_object* object);
// Creates `dir` (0700) if missing; an Error unless it is on a BPF file system.
void check_pin_dir(const std::string& dir);

class Collector {
  public:
    virtual ~Collector() = default;
    virtual std::string_view tool() const = 0;
    // Writes this tool's metric families (each started with Exposition::family).
    virtual void collect(prom::Exposition& out) = 0;
    // Events the tool saw but could not count (ring buffer full, a full start map, ...), so far.
    virtual std::uint64_t lost() const { return 0; }
    const std::vector<AttachedProgram>& programs() const { return programs_; }
    // Its maps (but the ring buffer and the skeleton's .rodata/.bss/.data).
    const std::vector<LoadedMap>& maps() const { return maps_; }

  protected:
    // Records the programs of `object` that load (the hooks hooks::prefer kept) and its maps.
    void record_programs(const bpf_object* object);

  private:
    std::vector<AttachedProgram> programs_;
    std::vector<LoadedMap> maps_;
};

// "ipv4" or "ipv6" for AF_INET or AF_INET6: the family label of the TCP collectors.
std::string family_label(int family);

// The kinds of a tool option's value.
enum class OptionKind {
    flag,   // KEY alone (true), KEY=true, KEY=false; YAML: a boolean
    text,   // KEY=TEXT (not empty)
    number, // KEY=N, from `least` to `most`
    ports,  // KEY=80,443: TCP ports (YAML: "80,443" or [80, 443])
};

struct OptionSpec {
    std::string_view key;
    OptionKind kind;
    std::string_view help;
    long least = 0, most = 0; // for numbers
};

// The tools the exporter can run, in the order they are written.
std::span<const std::string_view> collector_names();
// Those it runs when none is named (all but the benchmark's synthetic one).
std::span<const std::string_view> default_collector_names();
// The options of `tool` (an Error for an unknown tool).
std::span<const OptionSpec> collector_options(std::string_view tool);
// Checks `value` ("" for a flag given alone) against `tool`'s option `key` and stores it, in its
// normal form, in `options`; throws a one-line Error naming the tool, the option and what is
// expected.
void set_option(std::string_view tool, std::string_view key, std::string_view value,
                ToolOptions& options);
// Loads and attaches `tool`'s collector; throws Error for an unknown tool or a failed load.
std::unique_ptr<Collector> make_collector(std::string_view tool, const CollectorSettings& settings);

std::unique_ptr<Collector> make_cpudist_collector(const CollectorSettings& settings);
std::unique_ptr<Collector> make_runqlat_collector(const CollectorSettings& settings);
std::unique_ptr<Collector> make_biolatency_collector(const CollectorSettings& settings);
std::unique_ptr<Collector> make_syscount_collector(const CollectorSettings& settings);
std::unique_ptr<Collector> make_execsnoop_collector(const CollectorSettings& settings);
std::unique_ptr<Collector> make_tcpconnect_collector(const CollectorSettings& settings);
std::unique_ptr<Collector> make_tcplife_collector(const CollectorSettings& settings);
std::unique_ptr<Collector> make_hardirqs_collector(const CollectorSettings& settings);
std::unique_ptr<Collector> make_softirqs_collector(const CollectorSettings& settings);
std::unique_ptr<Collector> make_oomkill_collector(const CollectorSettings& settings);
std::unique_ptr<Collector> make_synthetic_collector(const CollectorSettings& settings);

} // namespace coretrace::exporter
