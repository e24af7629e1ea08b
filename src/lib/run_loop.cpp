// Stop signals through a signalfd: the main loop sleeps in poll() and wakes on SIGINT, SIGTERM
// or SIGHUP, so a tool always gets to print its totals and tear down its programs.
#include "coretrace/run_loop.hpp"

#include "coretrace/error.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>

namespace coretrace {
namespace {
sigset_t stop_set() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    return set;
}
} // namespace

StopSignals::StopSignals() {
    sigset_t set = stop_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    fd_.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd_)
        throw_system_error("signalfd", errno);
}

StopSignals::~StopSignals() {
    sigset_t set = stop_set();
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

bool StopSignals::wait_for(std::chrono::milliseconds timeout) {
    using namespace std::chrono;
    // A timeout of a century or more means "never" rather than an overflowing time point (the
    // command line caps user input at 1e9 s, about 32 years).
    const auto deadline = timeout >= hours(24 * 365 * 100) ? steady_clock::time_point::max()
                                                           : steady_clock::now() + timeout;
    while (!requested()) {
        auto left = deadline == steady_clock::time_point::max()
                        ? 1LL << 30
                        : duration_cast<milliseconds>(deadline - steady_clock::now()).count();
        if (left <= 0)
            return false;
        pollfd pfd{fd_.get(), POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1 << 30))) < 0 &&
            errno != EINTR)
            throw_system_error("waiting for signals", errno);
    }
    return true;
}

bool StopSignals::requested() {
    if (signal_)
        return true;
    signalfd_siginfo info{};
    if (::read(fd_.get(), &info, sizeof(info)) == sizeof(info))
        signal_ = static_cast<int>(info.ssi_signo);
    return signal_ != 0;
}

void add_pacing_options(CLI::App& app, Pacing& pacing, const std::string& interval_help) {
    app.add_option_function<long>(
           "interval", [&pacing](long seconds) { pacing.interval = std::chrono::seconds(seconds); },
           interval_help)
        ->check(positive_integer);
    app.add_option_function<long>(
           "count", [&pacing](long count) { pacing.count = count; }, "Number of outputs")
        ->check(positive_integer);
}

} // namespace coretrace
