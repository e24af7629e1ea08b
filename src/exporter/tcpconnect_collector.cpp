// tcpconnect as metrics: active TCP connections (connect(2)) counted per address family, and per
// destination port with tcpconnect:dport. tcpconnect is an event tool: its records are counted
// in user space, in a table of at most max_series label sets (destination ports are many: the
// connects of a port that finds the table full are counted apart).
#include "capped_counts.hpp"
#include "collector.hpp"
#include "event_pump.hpp"
#include "tcpconnect_setup.hpp"

#include <string>
#include <utility>

namespace coretrace::exporter {

namespace {

class TcpconnectCollector : public Collector {
  public:
    explicit TcpconnectCollector(const CollectorSettings& settings)
        : by_port_(settings.options.flag("dport")),
          skel_(tcpconnect::open({settings.options.text("ports")})), counts_(settings.max_series),
          pump_(EventPump::start<tcpconnect_event>(
              skel_, cgroup_filter(settings),
              [this](const tcpconnect_event& event) {
                  counts_.add({event.family, by_port_ ? event.dport : -1});
              },
              ring_bytes_for_sparse_events)) {
        record_programs(skel_.object());
    }

    std::string_view tool() const override { return "tcpconnect"; }
    std::uint64_t lost() const override { return pump_->lost() + skel_->bss->dropped; }

    void collect(prom::Exposition& out) override {
        const auto counts = counts_.snapshot();
        out.family("coretrace_tcpconnect_connects_total", prom::MetricType::counter,
                   by_port_ ? "Active TCP connections (connect(2) that sent a SYN), per address "
                              "family and destination port (tcpconnect)."
                            : "Active TCP connections (connect(2) that sent a SYN), per address "
                              "family (tcpconnect).");
        for (const auto& [key, n] : counts.rows) {
            prom::Labels labels{{"family", family_label(key.first)}};
            if (by_port_)
                labels.push_back({"dport", std::to_string(key.second)});
            out.sample(labels, static_cast<double>(n));
        }
        if (!by_port_)
            return; // two families never fill the table
        out.family("coretrace_tcpconnect_connects_over_cap_total", prom::MetricType::counter,
                   "Connects to destination ports that found the table of ports full (its size "
                   "is the series cap): counted, without a series of their own.");
        out.sample({}, static_cast<double>(counts.over_cap));
    }

  private:
    bool by_port_;
    Skeleton<tcpconnect_bpf> skel_;
    CappedCounts<std::pair<int, int>> counts_; // (family, destination port or -1)
    std::unique_ptr<EventPump> pump_;          // last: stopped first
};

} // namespace

std::unique_ptr<Collector> make_tcpconnect_collector(const CollectorSettings& settings) {
    return std::make_unique<TcpconnectCollector>(settings);
}

} // namespace coretrace::exporter
