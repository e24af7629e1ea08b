// The poll-until-stopped loop and the loss report that every event tool shares.
#include "coretrace/event_loop.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace coretrace {

using namespace std::chrono;

void pump_events(EventStream& stream, StopSignals& stop, seconds duration) {
    const auto deadline = duration.count() > 0 ? steady_clock::now() + duration
                                               : steady_clock::time_point::max();
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
                            std::uint64_t extra_lost) {
    // Every record of an event that happened before the detach is in the buffer now.
    stream.drain();
    std::fflush(stdout);
    const std::uint64_t lost = stream.lost() + extra_lost;
    std::fprintf(stderr, "%llu events lost\n", static_cast<unsigned long long>(lost));
    if (common.json)
        emit_json_line(
            nlohmann::json{{"type", "summary"}, {"events", stream.delivered()}, {"lost", lost}}
                .dump());
    return lost;
}

} // namespace coretrace
