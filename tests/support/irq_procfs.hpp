// Test support for hardirqs and softirqs: the kernel's own interrupt counters, which are the
// ground truth the tools' counts are checked against. Header-only.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace coretrace::test {

// /proc/interrupts: for each numbered IRQ line, its handler names (the last column, ", "
// between the handlers of a shared line) and its count summed over CPUs. A line shared by
// several handlers is counted once per handler name.
inline std::map<std::string, std::uint64_t> interrupts_by_name() {
    std::map<std::string, std::uint64_t> counts;
    std::ifstream in("/proc/interrupts");
    std::string header;
    std::getline(in, header);
    std::istringstream heads(header);
    int cpus = 0;
    for (std::string cpu; heads >> cpu;)
        cpus++;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string irq;
        fields >> irq;
        if (irq.empty() || irq.back() != ':' || !std::isdigit(static_cast<unsigned char>(irq[0])))
            continue;
        std::uint64_t total = 0;
        for (int i = 0; i < cpus; i++) {
            std::uint64_t n = 0;
            fields >> n;
            total += n;
        }
        std::string chip, hwirq, rest;
        fields >> chip >> hwirq;
        std::getline(fields, rest);
        rest.erase(0, rest.find_first_not_of(' '));
        // Handler names are separated by ", ".
        for (std::size_t start = 0; start <= rest.size();) {
            std::size_t comma = rest.find(", ", start);
            std::string name = rest.substr(start, comma - start);
            if (!name.empty())
                counts[name] += total;
            if (comma == std::string::npos)
                break;
            start = comma + 2;
        }
    }
    return counts;
}

// /proc/softirqs: per vector (upper case, as the kernel names them), summed over CPUs, or of
// one CPU's column only.
inline std::map<std::string, std::uint64_t> softirqs_by_name(int only_cpu = -1) {
    std::map<std::string, std::uint64_t> counts;
    std::ifstream in("/proc/softirqs");
    std::string line;
    std::getline(in, line); // CPU0 CPU1 ...
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string name;
        fields >> name;
        if (name.empty() || name.back() != ':')
            continue;
        name.pop_back();
        std::uint64_t total = 0;
        int cpu = 0;
        for (std::uint64_t n; fields >> n; cpu++)
            if (only_cpu < 0 || cpu == only_cpu)
                total += n;
        counts[name] = total;
    }
    return counts;
}

} // namespace coretrace::test
