// The Prometheus text exposition format (version 0.0.4), written by hand because it is a small
// text format: metric families (# HELP, # TYPE, then samples), escaped label values, the BPF
// side's log2 slots turned into cumulative `le` buckets, and a cap on the series of each family.
//
// Bucket bounds (the rule the exporter documents in docs/exporter.md): BPF slot k counts the
// values v with floor(log2(v)) == k (slot 0 also counts 0), and the last slot of a histogram also
// counts everything above it (the BPF side clamps). `le` is an inclusive upper bound, so:
//   - integer quantities (bytes, counts: SlotBound::integer): slot k holds 2^k .. 2^(k+1)-1 and
//     its bucket is le="2^(k+1)-1", the largest value it can hold (slot 0: le="1");
//   - durations measured in ns and divided down to whole units before the slot is chosen
//     (SlotBound::truncated): slot k holds real durations in [2^k, 2^(k+1)) units, every one of
//     them below 2^(k+1), so its bucket is le="2^(k+1)" units, times `scale` (1e-6 for
//     microseconds as seconds). 2^(k+1)-1 would be wrong there: 1.9 us truncates to 1 us.
//   - the last (clamped) slot has no finite bound: its values appear under le="+Inf" only.
// _count is the sum of the slots. The BPF side keeps no sum, so _sum is an estimate: each slot's
// count times the middle of its range (integer: (2^k + 2^(k+1)-1) / 2, slot 0: 0.5; truncated:
// 1.5 * 2^k, slot 0: 1), the clamped slot at its lower bound. It grows as the counts grow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace coretrace::prom {

struct Label {
    std::string name;
    std::string value;
};
using Labels = std::vector<Label>;

enum class MetricType { counter, gauge, histogram };

enum class SlotBound { integer, truncated };

struct Bucket {
    double le; // +Inf for the last
    std::uint64_t cumulative;
};

struct Histogram {
    std::vector<Bucket> buckets; // increasing le, ending with +Inf
    std::uint64_t count = 0;
    double sum = 0; // an estimate, see the header comment
};

// The buckets of BPF log2 slots (at least 1), with `le` and `_sum` in units of `scale`.
Histogram log2_histogram(std::span<const std::uint32_t> slots, SlotBound bound, double scale = 1.0);

// [a-zA-Z_:][a-zA-Z0-9_:]* / [a-zA-Z_][a-zA-Z0-9_]* (label names starting "__" are reserved).
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);
// A label value as written between the quotes: \ " and newline escaped, and bytes that are not
// valid UTF-8 (a comm is any 15 bytes) replaced by U+FFFD, which the format requires.
std::string escape_label_value(std::string_view value);
// HELP text: \ and newline escaped.
std::string escape_help(std::string_view help);
// A sample value: shortest round-trip decimal, +Inf, -Inf, NaN.
std::string format_value(double value);

// One scrape's text. Families are written in the order they are started; each keeps at most
// `max_series` series (a histogram is one series): the rest are dropped and counted, so callers
// add a family's series most important first.
class Exposition {
  public:
    explicit Exposition(std::size_t max_series = 1000) : max_series_(max_series) {}

    // Starts a family: its # HELP and # TYPE lines. Throws Error for an invalid or repeated name.
    void family(std::string_view name, MetricType type, std::string_view help);
    // A counter or gauge sample of the current family; false when the cap dropped it. Throws
    // Error for an invalid label name, or for a histogram family.
    bool sample(const Labels& labels, double value);
    // A histogram series of the current family (its _bucket, _sum and _count lines).
    bool histogram(const Labels& labels, const Histogram& histogram);

    // Series dropped by the cap in this scrape, per family that dropped any.
    const std::map<std::string, std::uint64_t>& dropped() const { return dropped_; }
    std::size_t max_series() const { return max_series_; }
    const std::string& text() const { return text_; }

  private:
    bool admit();
    void write_labels(const Labels& labels, const Label* extra);

    std::size_t max_series_;
    std::string text_;
    std::string current_;
    MetricType type_ = MetricType::gauge;
    std::size_t series_ = 0;
    std::vector<std::string> families_;
    std::map<std::string, std::uint64_t> dropped_;
};

} // namespace coretrace::prom
