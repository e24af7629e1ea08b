// Perf events on every online CPU with BPF programs attached (see perf_event.hpp).
#include "coretrace/perf_event.hpp"

#include "coretrace/error.hpp"
#include "coretrace/log.hpp"
#include "coretrace/system.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <set>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <utility>

namespace coretrace::perf {
namespace {

int parse_cpu(std::string_view text, std::string_view whole) {
    int value = -1;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty() || value < 0)
        throw Error(fmt::format("bad CPU list '{}'", whole));
    return value;
}

// Why perf_event_open failed, as one sentence.
std::string open_failure(const EventSpec& spec, int cpu, int err) {
    const bool hardware = spec.type == PERF_TYPE_HARDWARE || spec.type == PERF_TYPE_HW_CACHE;
    if (hardware && (err == ENOENT || err == EOPNOTSUPP || err == ENODEV))
        return fmt::format("no hardware PMU on this machine: {} events cannot be opened ({})",
                           spec.name, std::strerror(err));
    if (err == EINVAL && spec.frequency) {
        const std::string limit =
            sys::read_first_line("/proc/sys/kernel/perf_event_max_sample_rate");
        if (!limit.empty() && std::stoull(limit) < spec.frequency)
            return fmt::format("sample frequency {} Hz is above the kernel's limit of {} Hz "
                               "(kernel.perf_event_max_sample_rate)",
                               spec.frequency, limit);
    }
    if (err == EACCES || err == EPERM) {
        const std::string paranoid = sys::read_first_line("/proc/sys/kernel/perf_event_paranoid");
        return fmt::format("permission denied opening {} perf events (kernel.perf_event_paranoid "
                           "= {}); run as root or with CAP_PERFMON",
                           spec.name, paranoid.empty() ? "?" : paranoid);
    }
    if (err == ENOENT || err == EOPNOTSUPP)
        return fmt::format("this kernel has no {} perf event (type {}, config {}): {}", spec.name,
                           spec.type, spec.config, std::strerror(err));
    return fmt::format("opening the {} perf event on CPU {} failed: {}", spec.name, cpu,
                       std::strerror(err));
}

} // namespace

std::vector<int> parse_cpu_list(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.remove_suffix(1);
    if (text.empty())
        throw Error("empty CPU list");
    std::set<int> cpus;
    const std::string_view whole = text;
    while (!text.empty()) {
        const auto comma = text.find(',');
        std::string_view part = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        const auto dash = part.find('-');
        const int first = parse_cpu(part.substr(0, dash), whole);
        const int last =
            dash == std::string_view::npos ? first : parse_cpu(part.substr(dash + 1), whole);
        if (last < first || last - first > 65536)
            throw Error(fmt::format("bad CPU list '{}'", whole));
        for (int cpu = first; cpu <= last; cpu++)
            cpus.insert(cpu);
    }
    return {cpus.begin(), cpus.end()};
}

std::vector<int> online_cpus() {
    const char* path = "/sys/devices/system/cpu/online";
    const std::string line = sys::read_first_line(path);
    if (line.empty())
        throw Error(fmt::format("cannot read the online CPUs from {}", path));
    return parse_cpu_list(line);
}

EventSpec EventSpec::cpu_clock(std::uint64_t hz) {
    EventSpec spec;
    spec.frequency = hz;
    return spec;
}

PerCpuEvents PerCpuEvents::open(const EventSpec& spec, const std::vector<int>& cpus) {
    if ((spec.frequency == 0) == (spec.period == 0))
        throw Error("a perf event needs either a sample frequency or a sample period");
    perf_event_attr attr{};
    attr.size = sizeof(attr);
    attr.type = spec.type;
    attr.config = spec.config;
    attr.freq = spec.frequency ? 1 : 0;
    if (spec.frequency)
        attr.sample_freq = spec.frequency;
    else
        attr.sample_period = spec.period;
    attr.disabled = 1; // enabled once a program is attached

    PerCpuEvents events;
    events.name_ = spec.name;
    for (int cpu : cpus) {
        errno = 0;
        const int fd = static_cast<int>(
            ::syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
        if (fd < 0) {
            const int err = errno ? errno : EINVAL;
            if (err == ENODEV && spec.type == PERF_TYPE_SOFTWARE) {
                log::debug("perf events: CPU {} is offline, skipped", cpu);
                continue;
            }
            throw Error(open_failure(spec, cpu, err), err);
        }
        events.cpus_.push_back(cpu);
        events.fds_.emplace_back(fd);
    }
    if (events.cpus_.empty())
        throw Error(fmt::format("no online CPU to open {} perf events on", spec.name));
    events.links_.assign(events.cpus_.size(), nullptr);
    return events;
}

PerCpuEvents& PerCpuEvents::operator=(PerCpuEvents&& other) noexcept {
    if (this != &other) {
        detach();
        cpus_ = std::move(other.cpus_);
        fds_ = std::move(other.fds_);
        links_ = std::move(other.links_);
        name_ = std::move(other.name_);
    }
    return *this;
}

PerCpuEvents::~PerCpuEvents() {
    detach(); // links first, then the events (fds_) close
}

void PerCpuEvents::attach(bpf_program* program) {
    log::LibbpfCapture capture;
    for (std::size_t i = 0; i < fds_.size(); i++) {
        if (links_[i])
            continue;
        // libbpf's link closes the perf fd it is given when destroyed: give it a duplicate,
        // so that fds_ keeps ownership of the event itself.
        const int dup = ::fcntl(fds_[i].get(), F_DUPFD_CLOEXEC, 3);
        if (dup < 0)
            throw_system_error("duplicating a perf event fd", errno);
        errno = 0;
        bpf_link* link = bpf_program__attach_perf_event(program, dup);
        if (!link) {
            const int err = errno ? errno : EINVAL;
            ::close(dup);
            throw Error(
                fmt::format("attaching program {} to the {} perf event on CPU {} failed: {}",
                            bpf_program__name(program), name_, cpus_[i], std::strerror(err)),
                err);
        }
        links_[i] = link;
    }
}

void PerCpuEvents::detach() {
    for (auto& link : links_)
        if (link)
            bpf_link__destroy(std::exchange(link, nullptr));
}

} // namespace coretrace::perf
