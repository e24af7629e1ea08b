// tcplife as metrics: TCP sessions as they close, per address family: how many, the bytes they
// received and sent, and a histogram of their lifespans. tcplife is an event tool: its records
// are summed in user space, so the histogram's _sum is exact (not estimated from the slots).
#include "collector.hpp"
#include "event_pump.hpp"
#include "tcplife_setup.hpp"

#include "coretrace/error.hpp"

#include <array>
#include <bit>
#include <map>
#include <mutex>

namespace coretrace::exporter {

namespace {

// log2 slots of whole microseconds, as the BPF histograms: the last holds 2^39 us (6.4 days)
// and more.
constexpr int lifespan_slots = 40;

struct FamilyTotals {
    std::uint64_t sessions = 0, rx_bytes = 0, tx_bytes = 0, span_ns = 0;
    std::array<std::uint32_t, lifespan_slots> slots{};
};

tcplife::Settings filters(const CollectorSettings& settings) {
    tcplife::Settings tcplife;
    tcplife.local_ports = settings.options.text("lports");
    tcplife.remote_ports = settings.options.text("rports");
    return tcplife;
}

class TcplifeCollector : public Collector {
  public:
    explicit TcplifeCollector(const CollectorSettings& settings)
        : skel_(tcplife::open(filters(settings))),
          pump_(EventPump::start<tcplife_event>(
              skel_, [this](const tcplife_event& event) { count(event); },
              ring_bytes_for_sparse_events)) {
        record_programs(skel_.object());
    }

    std::string_view tool() const override { return "tcplife"; }
    std::uint64_t lost() const override { return pump_->lost() + skel_->bss->dropped; }

    void collect(prom::Exposition& out) override {
        std::map<int, FamilyTotals> totals;
        {
            std::lock_guard lock(mutex_);
            totals = totals_;
        }
        auto counter = [&](const char* name, const char* help, auto value) {
            out.family(name, prom::MetricType::counter, help);
            for (const auto& [family, t] : totals)
                out.sample({{"family", family_label(family)}}, static_cast<double>(value(t)));
        };
        counter("coretrace_tcplife_sessions_total",
                "TCP sessions closed, per address family "
                "(tcplife).",
                [](const FamilyTotals& t) { return t.sessions; });
        counter("coretrace_tcplife_rx_bytes_total",
                "Bytes received by the TCP sessions that closed (tcp_sock.bytes_received), per "
                "address family (tcplife RX_KB).",
                [](const FamilyTotals& t) { return t.rx_bytes; });
        counter("coretrace_tcplife_tx_bytes_total",
                "Bytes sent and acknowledged by the TCP sessions that closed "
                "(tcp_sock.bytes_acked), per address family (tcplife TX_KB).",
                [](const FamilyTotals& t) { return t.tx_bytes; });
        out.family("coretrace_tcplife_duration_seconds", prom::MetricType::histogram,
                   "Lifespan of the TCP sessions that closed, per address family (tcplife MS), "
                   "in log2 buckets of whole microseconds; _sum is exact.");
        for (const auto& [family, t] : totals) {
            prom::Histogram histogram =
                prom::log2_histogram(t.slots, prom::SlotBound::truncated, 1e-6);
            histogram.sum = static_cast<double>(t.span_ns) / 1e9;
            out.histogram({{"family", family_label(family)}}, histogram);
        }
    }

  private:
    void count(const tcplife_event& event) {
        const std::uint64_t us = event.span_ns / 1000;
        const int slot =
            us == 0 ? 0 : std::min(static_cast<int>(std::bit_width(us)) - 1, lifespan_slots - 1);
        std::lock_guard lock(mutex_);
        FamilyTotals& t = totals_[event.family];
        t.sessions++;
        t.rx_bytes += event.rx_bytes;
        t.tx_bytes += event.tx_bytes;
        t.span_ns += event.span_ns;
        t.slots[static_cast<std::size_t>(slot)]++;
    }

    Skeleton<tcplife_bpf> skel_;
    std::mutex mutex_;
    std::map<int, FamilyTotals> totals_; // two families at most
    std::unique_ptr<EventPump> pump_;    // last: stopped first
};

} // namespace

std::unique_ptr<Collector> make_tcplife_collector(const CollectorSettings& settings) {
    return std::make_unique<TcplifeCollector>(settings);
}

} // namespace coretrace::exporter
