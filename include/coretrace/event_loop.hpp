// The life of an event tool once attached: records are delivered until a stop signal (SIGINT,
// SIGTERM, SIGHUP) or the end of -d; after the programs detach, the last records are drained and
// the loss is reported, never silent: "N events lost" on stderr and, with --json, a summary.
#pragma once

#include "coretrace/event_stream.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/tool.hpp"

#include <chrono>
#include <cstdint>

namespace coretrace {

// Polls `stream` (100 ms at most between drains, flushing stdout after each) until a stop signal
// or `duration` has passed (zero: no limit).
void pump_events(EventStream& stream, StopSignals& stop, std::chrono::seconds duration = {});

// Call after detaching: delivers what is left, then reports the records delivered and lost
// (`extra_lost`: records the tool's own BPF code could not follow, e.g. a full start map).
// Returns the total lost.
std::uint64_t finish_events(EventStream& stream, const CommonOptions& common,
                            std::uint64_t extra_lost = 0);

} // namespace coretrace
