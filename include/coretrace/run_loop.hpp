// How a tool's main loop ends: SIGINT, SIGTERM and SIGHUP are turned into a readable fd (so
// they never interrupt printing halfway) and into "stop requested"; [interval] [count] pacing.
#pragma once

#include "coretrace/fd.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace CLI {
class App;
} // namespace CLI

namespace coretrace {

class StopSignals {
  public:
    // Blocks the signals in this thread (threads created later inherit it): create it first.
    StopSignals();
    ~StopSignals();
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    // Waits up to `timeout`; true when a stop signal arrived (now or before).
    bool wait_for(std::chrono::milliseconds timeout);
    bool requested();
    int fd() const { return fd_.get(); }
    int signal() const { return signal_; } // the signal that stopped us, 0 if none

  private:
    UniqueFd fd_;
    int signal_ = 0;
};

// Positional [interval] [count] of the interval tools: every `interval` print, `count` times.
struct Pacing {
    std::chrono::seconds interval{99999999};
    std::optional<long> count;

    // Runs `report` each interval until count is reached or a stop signal arrives (then one
    // last report). Returns true if stopped by a signal.
    template <typename Report> bool run(StopSignals& stop, Report&& report) const {
        for (long done = 0;;) {
            bool signalled = stop.wait_for(interval);
            report();
            if (signalled || (count && ++done >= *count))
                return signalled;
        }
    }
};

// Adds the positional [interval] [count] options that set `pacing` (a positive number of
// seconds, and of reports); a tool with another default interval sets it first and says so in
// `interval_help`.
void add_pacing_options(CLI::App& app, Pacing& pacing,
                        const std::string& interval_help = "Output interval, in seconds");

} // namespace coretrace
