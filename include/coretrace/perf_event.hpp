// Perf events opened on every online CPU with a BPF program attached to each: the sampling timer
// behind runqlen (and, later, profile's stack sampling). Software or hardware events, by sample
// frequency or period; everything is detached and closed when the owner dies, and a failure is
// one clear line ("no hardware PMU on this machine ...", the kernel's sample-rate limit, ...).
#pragma once

#include "coretrace/fd.hpp"

#include <bpf/libbpf.h>
#include <cstdint>
#include <linux/perf_event.h>
#include <string>
#include <string_view>
#include <vector>

namespace coretrace::perf {

// The CPUs listed in a sysfs CPU list such as "0-3,5,7-8" (sorted, no duplicates). Throws Error for
// text that is not such a list.
std::vector<int> parse_cpu_list(std::string_view text);
// The online CPUs, from /sys/devices/system/cpu/online.
std::vector<int> online_cpus();

// What to open on each CPU.
struct EventSpec {
    std::uint32_t type = PERF_TYPE_SOFTWARE;        // PERF_TYPE_SOFTWARE, PERF_TYPE_HARDWARE, ...
    std::uint64_t config = PERF_COUNT_SW_CPU_CLOCK; // PERF_COUNT_SW_*, PERF_COUNT_HW_*, ...
    // Exactly one: samples per second on each CPU, or events between two samples.
    std::uint64_t frequency = 0;
    std::uint64_t period = 0;
    // For messages: "cpu-clock", "cycles", ...
    std::string name = "cpu-clock";

    // The common case: a cpu-clock timer firing `hz` times a second on each CPU.
    static EventSpec cpu_clock(std::uint64_t hz);
};

// One event per CPU, each with (after attach) a BPF program run at every sample. Destroying it
// detaches the programs and closes the events.
class PerCpuEvents {
  public:
    // Opens `spec` on each of `cpus` (a CPU that went offline meanwhile is skipped). Throws a
    // one-line Error when an event cannot be opened: no such PMU, a frequency above
    // kernel.perf_event_max_sample_rate, no permission, ...
    static PerCpuEvents open(const EventSpec& spec, const std::vector<int>& cpus = online_cpus());

    PerCpuEvents(PerCpuEvents&&) noexcept = default;
    PerCpuEvents& operator=(PerCpuEvents&& other) noexcept;
    PerCpuEvents(const PerCpuEvents&) = delete;
    PerCpuEvents& operator=(const PerCpuEvents&) = delete;
    ~PerCpuEvents();

    // Attaches a loaded BPF_PROG_TYPE_PERF_EVENT program (SEC("perf_event")) to every event and
    // enables them. Throws Error naming the CPU on failure (what was attached stays owned).
    void attach(bpf_program* program);
    // Detaches every program; the events stay open.
    void detach();

    // The CPUs an event is open on, in order.
    const std::vector<int>& cpus() const { return cpus_; }
    std::size_t size() const { return cpus_.size(); }

  private:
    PerCpuEvents() = default;

    std::vector<int> cpus_;
    std::vector<UniqueFd> fds_;
    std::vector<bpf_link*> links_;
    std::string name_;
};

} // namespace coretrace::perf
