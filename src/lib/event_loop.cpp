// The poll-until-stopped loop and the loss report that every event tool shares.
#include "coretrace/event_loop.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace coretrace {

using namespace std::chrono;

void pump_events(EventStream& stream, StopSignals& stop, seconds duration) {
    const auto deadline =
        duration.count() > 0 ? steady_clock::now() + duration : steady_clock::time_point::max();
    while (!stop.requested()) {
        const auto now = steady_clock::now();
        if (now >= deadline)
            break;
        auto wait = milliseconds(100);
        if (deadline != steady_clock::time_point::max())
            wait = std::min(wait, ceil<milliseconds>(deadline - now));
        stream.poll(wait);
        std::fflush(stdout);
    }
}

std::uint64_t finish_events(EventStream& stream, const CommonOptions& common,
                            std::uint64_t extra_lost, std::uint64_t skipped_runs) {
    // Every record of an event that happened before the detach is in the buffer now.
    stream.drain();
    std::fflush(stdout);
    const std::uint64_t lost = stream.lost() + extra_lost;
    std::fprintf(stderr, "%llu events lost\n", static_cast<unsigned long long>(lost));
    if (skipped_runs)
        std::fprintf(stderr,
                     "%llu events unseen: the kernel skipped the program while another BPF "
                     "program ran on that CPU\n",
                     static_cast<unsigned long long>(skipped_runs));
    if (common.json)
        emit_json_line(nlohmann::json{
            {"type", "summary"},
            {"events", stream.delivered()},
            {"lost", lost},
            {"unseen",
             skipped_runs}}.dump());
    return lost;
}

} // namespace coretrace
