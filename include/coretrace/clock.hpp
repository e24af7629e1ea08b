// Time as tools print it: libbpf-tools' "HH:MM:SS" for -T, nanoseconds since the Unix epoch for
// JSON, and the conversion of BPF timestamps (bpf_ktime_get_ns, CLOCK_MONOTONIC) to wall time.
#pragma once

#include <cstdint>
#include <string>

namespace coretrace {

// "HH:MM:SS" local time now, or at `unix_ns`.
std::string clock_time();
std::string clock_time(std::int64_t unix_ns);
// Nanoseconds since the Unix epoch, now.
std::int64_t unix_time_ns();

// Turns bpf_ktime_get_ns() values into Unix-epoch nanoseconds. The offset is taken once, at
// construction: a wall-clock step later (NTP, settimeofday) is not followed, so records stay
// ordered as the kernel saw them.
class KernelClock {
  public:
    KernelClock();
    std::int64_t unix_ns(std::uint64_t monotonic_ns) const {
        return static_cast<std::int64_t>(monotonic_ns) + offset_ns_;
    }

  private:
    std::int64_t offset_ns_;
};

} // namespace coretrace
