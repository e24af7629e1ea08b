// Wall-clock formatting and the monotonic-to-Unix offset.
#include "coretrace/clock.hpp"

#include <ctime>

namespace coretrace {
namespace {
std::int64_t nanoseconds(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
} // namespace

std::string clock_time(std::int64_t unix_ns) {
    std::time_t seconds = static_cast<std::time_t>(unix_ns / 1000000000);
    std::tm local{};
    localtime_r(&seconds, &local);
    char text[16];
    std::strftime(text, sizeof(text), "%H:%M:%S", &local);
    return text;
}

std::string clock_time() {
    return clock_time(unix_time_ns());
}

std::int64_t unix_time_ns() {
    return nanoseconds(CLOCK_REALTIME);
}

KernelClock::KernelClock() : offset_ns_(nanoseconds(CLOCK_REALTIME) - nanoseconds(CLOCK_MONOTONIC)) {}

} // namespace coretrace
