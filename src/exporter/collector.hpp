// The exporter's collectors: one per tool, each running that tool's BPF object system-wide with
// the tool's own set-up (tools/NAME/NAME_setup.hpp: hooks::prefer, TaskFilter, Skeleton) and, at
// each scrape, reading the tool's maps (nothing is read on a timer, nothing is cleared: every
// count is cumulative from the exporter's start) and writing them as metric families.
//
// An event tool (execsnoop) has no map to read: its collector drains the tool's ring buffer on a
// thread of its own and keeps the counts in user space, under the same series cap as the
// exposition. Everything a collector loads is released when it is destroyed.
#pragma once

#include "coretrace/exposition.hpp"
#include "coretrace/task_filter.hpp"

#include <bpf/libbpf.h>
#include <cstddef>
#include <cstdint>
#include <functional>
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

struct CollectorSettings {
    // Series kept per metric family (the exposition's cap, also the size of user-space tables).
    std::size_t max_series = 1000;
    // --pin: a bpffs directory where the aggregating maps are pinned (DIR/TOOL_MAP, mode 0600)
    // and, when already there, reused: a restarted exporter continues their counts. Empty: no
    // pins, nothing outlives the process.
    std::string pin_dir;
    // A cgroup v2 path: the tool counts the tasks in it only. Empty: every task.
    std::string cgroup;
};

// The tool's kernel filter for `settings.cgroup`, validated (a one-line Error for a bad path).
TaskFilter cgroup_filter(const CollectorSettings& settings);

// For a tool's set-up (its `before_load`): pins `maps` of the object under settings.pin_dir;
// does nothing without --pin.
std::function<void(bpf_object*)> pin_maps(const CollectorSettings& settings, std::string_view tool,
                                          std::vector<std::string> maps);
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

  protected:
    // Records the programs of `object` that load (the hooks hooks::prefer kept).
    void record_programs(const bpf_object* object);

  private:
    std::vector<AttachedProgram> programs_;
};

// The tools the exporter can run, in the order they are written.
std::span<const std::string_view> collector_names();
// Loads and attaches `tool`'s collector; throws Error for an unknown tool or a failed load.
std::unique_ptr<Collector> make_collector(std::string_view tool, const CollectorSettings& settings);

std::unique_ptr<Collector> make_cpudist_collector(const CollectorSettings& settings);
std::unique_ptr<Collector> make_runqlat_collector(const CollectorSettings& settings);
std::unique_ptr<Collector> make_biolatency_collector(const CollectorSettings& settings);
std::unique_ptr<Collector> make_syscount_collector(const CollectorSettings& settings);
std::unique_ptr<Collector> make_execsnoop_collector(const CollectorSettings& settings);

} // namespace coretrace::exporter
