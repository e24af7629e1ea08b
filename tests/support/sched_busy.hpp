// Test support for the scheduler tools (runqlat, runqslower, runqlen): a workload that keeps more
// threads runnable than there are CPUs, so that they wait in run queues, and the thread ids of a
// process. Header only; used inside a forked Child.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <sys/prctl.h>
#include <sys/types.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace coretrace::test {

// Starts `threads` threads named `name` that each keep a CPU busy for `spin`, then block for
// good (they stay alive, so /proc still lists them and counts their context switches). Returns
// once every one has spun.
inline void busy_threads(int threads, std::chrono::milliseconds spin,
                         const char* name = "ct-spin") {
    static std::atomic<int> spun{0};
    for (int i = 0; i < threads; i++)
        std::thread([spin, name] {
            ::prctl(PR_SET_NAME, name);
            const auto end = std::chrono::steady_clock::now() + spin;
            while (std::chrono::steady_clock::now() < end) {
            }
            spun++;
            for (;;)
                ::pause();
        }).detach();
    while (spun.load() < threads)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

// The thread ids of process `pid` now, sorted.
inline std::vector<long> threads_of(pid_t pid) {
    std::vector<long> tids;
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec))
        tids.push_back(std::stol(entry.path().filename().string()));
    std::sort(tids.begin(), tids.end());
    return tids;
}

} // namespace coretrace::test
