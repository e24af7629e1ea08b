// The Prometheus exposition: log2 slots -> cumulative `le` buckets with bounds that hold every
// value of their slot, escaping, the series cap, and the whole text accepted by promtool.
#include "coretrace/error.hpp"
#include "coretrace/exposition.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

namespace {

using namespace coretrace::prom;

// Runs `promtool check metrics` on `text`; nullopt-like "" + skipped when promtool is missing.
struct PromtoolResult {
    bool available = false;
    int status = 0;
    std::string output;
};

PromtoolResult promtool_check(const std::string& text) {
    PromtoolResult result;
    if (std::system("command -v promtool >/dev/null 2>&1") != 0)
        return result;
    result.available = true;
    char path[] = "/tmp/coretrace-exposition-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0)
        return result;
    close(fd);
    std::ofstream(path) << text;
    const std::string command = std::string("promtool check metrics < ") + path + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0)
        result.output.append(buffer, n);
    result.status = pclose(pipe);
    unlink(path);
    return result;
}

TEST(Log2Buckets, IntegerBoundIsTheLargestValueOfTheSlot) {
    // slot 0: {0, 1}; slot 1: 2..3; slot 2: 4..7; slot 3 (last, clamped): 8 and above.
    const std::array<std::uint32_t, 4> slots{3, 0, 5, 2};
    const Histogram h = log2_histogram(slots, SlotBound::integer);
    ASSERT_EQ(h.buckets.size(), 4u);
    EXPECT_EQ(h.buckets[0].le, 1);
    EXPECT_EQ(h.buckets[0].cumulative, 3u);
    EXPECT_EQ(h.buckets[1].le, 3);
    EXPECT_EQ(h.buckets[1].cumulative, 3u);
    EXPECT_EQ(h.buckets[2].le, 7);
    EXPECT_EQ(h.buckets[2].cumulative, 8u);
    EXPECT_TRUE(std::isinf(h.buckets[3].le));
    EXPECT_EQ(h.buckets[3].cumulative, 10u);
    EXPECT_EQ(h.count, 10u);
    // Estimate: 3 * 0.5 + 5 * 5.5 + 2 * 8 (the clamped slot at its lower bound).
    EXPECT_DOUBLE_EQ(h.sum, 3 * 0.5 + 5 * 5.5 + 2 * 8.0);
}

TEST(Log2Buckets, EveryValueLandsInABucketThatHoldsIt) {
    // Put each integer v in the slot the BPF side would (floor(log2 v), 0 for 0) and check that
    // the first bucket counting it has le >= v and the bucket before it has le < v.
    for (std::uint64_t v = 0; v < 300; v++) {
        std::array<std::uint32_t, 10> slots{};
        const std::size_t slot = v < 2 ? 0 : static_cast<std::size_t>(std::log2(v));
        slots[std::min<std::size_t>(slot, slots.size() - 1)] = 1;
        const Histogram h = log2_histogram(slots, SlotBound::integer);
        std::size_t first = 0;
        while (h.buckets[first].cumulative == 0)
            first++;
        EXPECT_GE(h.buckets[first].le, static_cast<double>(v)) << v;
        if (first > 0) {
            EXPECT_LT(h.buckets[first - 1].le, static_cast<double>(v)) << v;
        }
    }
}

TEST(Log2Buckets, TruncatedDurationsUseTheExclusiveBoundScaled) {
    // Microsecond slots as seconds: slot 0 holds real durations below 2 us (1.9 us truncates to
    // 1), slot 1 those in [2, 4) us.
    const std::array<std::uint32_t, 3> slots{1, 2, 4};
    const Histogram h = log2_histogram(slots, SlotBound::truncated, 1e-6);
    ASSERT_EQ(h.buckets.size(), 3u);
    EXPECT_DOUBLE_EQ(h.buckets[0].le, 2e-6);
    EXPECT_DOUBLE_EQ(h.buckets[1].le, 4e-6);
    EXPECT_EQ(h.buckets[1].cumulative, 3u);
    EXPECT_EQ(h.buckets[2].cumulative, 7u);
    EXPECT_DOUBLE_EQ(h.sum, (1 * 1.0 + 2 * 3.0 + 4 * 4.0) * 1e-6);
}

TEST(Log2Buckets, NoSlotsIsAnError) {
    EXPECT_THROW(log2_histogram({}, SlotBound::integer), coretrace::Error);
}

TEST(Exposition, NamesAndEscaping) {
    EXPECT_TRUE(valid_metric_name("coretrace_execs_total"));
    EXPECT_TRUE(valid_metric_name("a:b_c9"));
    EXPECT_FALSE(valid_metric_name("9abc"));
    EXPECT_FALSE(valid_metric_name("a-b"));
    EXPECT_FALSE(valid_metric_name(""));
    EXPECT_TRUE(valid_label_name("comm"));
    EXPECT_FALSE(valid_label_name("__name__"));
    EXPECT_FALSE(valid_label_name("a:b"));
    EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    EXPECT_EQ(escape_label_value("caf\xC3\xA9"), "caf\xC3\xA9");               // valid UTF-8 kept
    EXPECT_EQ(escape_label_value("x\xFFy\xC3"), "x\xEF\xBF\xBDy\xEF\xBF\xBD"); // invalid replaced
    EXPECT_EQ(escape_label_value("\xED\xA0\x80"),
              "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); // surrogate
    EXPECT_EQ(escape_help("a\\b\nc\"d"), "a\\\\b\\nc\"d");
    EXPECT_EQ(format_value(3), "3");
    EXPECT_EQ(format_value(0.5), "0.5");
    EXPECT_EQ(format_value(INFINITY), "+Inf");
    EXPECT_EQ(format_value(NAN), "NaN");
}

TEST(Exposition, WritesFamiliesSamplesAndHistograms) {
    Exposition e;
    e.family("coretrace_test_calls_total", MetricType::counter, "Calls.\nSecond line");
    e.sample({{"syscall", "read"}}, 42);
    e.sample({{"syscall", "we\"ird"}}, 1);
    e.family("coretrace_test_seconds", MetricType::histogram, "Durations.");
    const std::array<std::uint32_t, 3> slots{1, 0, 2};
    e.histogram({{"disk", "sda"}}, log2_histogram(slots, SlotBound::truncated, 1e-6));
    EXPECT_EQ(e.text(), "# HELP coretrace_test_calls_total Calls.\\nSecond line\n"
                        "# TYPE coretrace_test_calls_total counter\n"
                        "coretrace_test_calls_total{syscall=\"read\"} 42\n"
                        "coretrace_test_calls_total{syscall=\"we\\\"ird\"} 1\n"
                        "# HELP coretrace_test_seconds Durations.\n"
                        "# TYPE coretrace_test_seconds histogram\n"
                        "coretrace_test_seconds_bucket{disk=\"sda\",le=\"2e-06\"} 1\n"
                        "coretrace_test_seconds_bucket{disk=\"sda\",le=\"4e-06\"} 1\n"
                        "coretrace_test_seconds_bucket{disk=\"sda\",le=\"+Inf\"} 3\n"
                        "coretrace_test_seconds_sum{disk=\"sda\"} 9e-06\n"
                        "coretrace_test_seconds_count{disk=\"sda\"} 3\n");
}

TEST(Exposition, RejectsWhatPrometheusWouldNot) {
    Exposition e;
    EXPECT_THROW(e.sample({}, 1), coretrace::Error); // no family yet
    EXPECT_THROW(e.family("bad-name", MetricType::gauge, ""), coretrace::Error);
    e.family("coretrace_x", MetricType::gauge, "x");
    EXPECT_THROW(e.family("coretrace_x", MetricType::gauge, "x"), coretrace::Error);
    EXPECT_THROW(e.sample({{"__bad", "v"}}, 1), coretrace::Error);
    EXPECT_THROW(e.histogram({}, Histogram{}), coretrace::Error);
    e.family("coretrace_h", MetricType::histogram, "h");
    const std::array<std::uint32_t, 2> slots{1, 1};
    EXPECT_THROW(e.histogram({{"le", "1"}}, log2_histogram(slots, SlotBound::integer)),
                 coretrace::Error);
    EXPECT_THROW(e.sample({}, 1), coretrace::Error);
}

TEST(Exposition, CapsSeriesPerFamilyAndCountsTheDropped) {
    Exposition e(2);
    e.family("coretrace_a_total", MetricType::counter, "a");
    EXPECT_TRUE(e.sample({{"comm", "one"}}, 1));
    EXPECT_TRUE(e.sample({{"comm", "two"}}, 2));
    EXPECT_FALSE(e.sample({{"comm", "three"}}, 3));
    EXPECT_FALSE(e.sample({{"comm", "four"}}, 4));
    e.family("coretrace_b_total", MetricType::counter, "b"); // the cap is per family
    EXPECT_TRUE(e.sample({{"comm", "one"}}, 1));
    EXPECT_TRUE(e.sample({{"comm", "two"}}, 1));
    EXPECT_EQ(e.text().find("three"), std::string::npos);
    ASSERT_EQ(e.dropped().size(), 1u);
    EXPECT_EQ(e.dropped().at("coretrace_a_total"), 2u);
}

TEST(Exposition, PromtoolAcceptsTheText) {
    Exposition e;
    e.family("coretrace_test_execs_total", MetricType::counter, "Execs by \"comm\" \\ name.");
    e.sample({{"comm", "bash"}}, 12);
    e.sample({{"comm", std::string("we\"ird\\\n\xFF", 10)}}, 1);
    e.family("coretrace_test_latency_seconds", MetricType::histogram, "Latency.");
    std::array<std::uint32_t, 27> slots{};
    slots[0] = 4;
    slots[5] = 100;
    slots[26] = 1;
    e.histogram({{"disk", "sda"}}, log2_histogram(slots, SlotBound::truncated, 1e-6));
    e.histogram({{"disk", "nvme0n1"}}, log2_histogram(slots, SlotBound::truncated, 1e-6));
    e.family("coretrace_test_size_bytes", MetricType::histogram, "Sizes.");
    e.histogram({}, log2_histogram(slots, SlotBound::integer));
    e.family("coretrace_test_attached", MetricType::gauge, "Gauge.");
    e.sample({}, 1);
    const PromtoolResult result = promtool_check(e.text());
    if (!result.available)
        GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
    EXPECT_EQ(result.status, 0) << result.output << "\n" << e.text();
}

} // namespace
