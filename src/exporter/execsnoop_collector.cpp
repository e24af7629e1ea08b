// execsnoop as metrics: successful execve(2)/execveat(2) calls, counted per new command name.
// execsnoop is an event tool, so this collector drains its ring buffer on a thread and counts in
// user space; a table of at most max_series command names keeps the series bounded (execs of
// names that find it full are counted apart).
#include "collector.hpp"
#include "execsnoop_setup.hpp"

#include "coretrace/event_stream.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/task_filter.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

namespace coretrace::exporter {

namespace {

using namespace std::chrono_literals;

// Only the path is read from each call: the counts need the command name alone.
execsnoop::Settings path_only() {
    execsnoop::Settings settings;
    settings.max_args = 1;
    return settings;
}

class ExecsnoopCollector : public Collector {
  public:
    explicit ExecsnoopCollector(const CollectorSettings& settings)
        : max_comms_(settings.max_series), filter_(cgroup_filter(settings)),
          skel_(execsnoop::open(path_only())) {
        filter_.configure(skel_->rodata);
        EventStream::prepare(skel_, 1u << 22);
        skel_.load();
        filter_.install(skel_->maps.ct_cgroup_filter);
        stream_ = EventStream::of<execsnoop_event>(
            skel_, [this](const execsnoop_event& event) { count(event); });
        skel_.attach();
        record_programs(skel_.object());
        pump_ = std::thread([this] {
            while (!stopping_.load()) {
                stream_->poll(100ms);
                lost_.store(stream_->lost());
            }
        });
    }

    ~ExecsnoopCollector() override {
        stopping_.store(true);
        pump_.join();
        skel_.detach();
    }

    std::string_view tool() const override { return "execsnoop"; }
    std::uint64_t lost() const override { return lost_.load() + skel_->bss->calls_dropped; }

    void collect(prom::Exposition& out) override {
        std::vector<std::pair<std::string, std::uint64_t>> rows;
        std::uint64_t over_cap;
        {
            std::lock_guard lock(mutex_);
            rows.assign(by_comm_.begin(), by_comm_.end());
            over_cap = over_cap_;
        }
        std::sort(rows.begin(), rows.end(),
                  [](const auto& a, const auto& b) { return a.second > b.second; });
        out.family("coretrace_execsnoop_execs_total", prom::MetricType::counter,
                   "Successful execve(2) and execveat(2) calls per new command name (comm), "
                   "as execsnoop sees them.");
        for (const auto& [comm, n] : rows)
            out.sample({{"comm", comm}}, static_cast<double>(n));
        out.family("coretrace_execsnoop_execs_over_cap_total", prom::MetricType::counter,
                   "Successful exec calls of command names that found the table of names full "
                   "(its size is the series cap): counted, without a comm series.");
        out.sample({}, static_cast<double>(over_cap));
    }

  private:
    void count(const execsnoop_event& event) {
        if (event.retval != 0)
            return;
        std::string comm = fixed_string(event.comm);
        std::lock_guard lock(mutex_);
        auto it = by_comm_.find(comm);
        if (it != by_comm_.end())
            it->second++;
        else if (by_comm_.size() < max_comms_)
            by_comm_.emplace(std::move(comm), 1);
        else
            over_cap_++;
    }

    std::size_t max_comms_;
    TaskFilter filter_;
    Skeleton<execsnoop_bpf> skel_;
    std::unique_ptr<EventStream> stream_;
    std::thread pump_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> lost_{0};
    std::mutex mutex_;
    std::map<std::string, std::uint64_t> by_comm_;
    std::uint64_t over_cap_ = 0;
};

} // namespace

std::unique_ptr<Collector> make_execsnoop_collector(const CollectorSettings& settings) {
    return std::make_unique<ExecsnoopCollector>(settings);
}

} // namespace coretrace::exporter
