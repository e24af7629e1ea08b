// The histogram text must match libbpf-tools' print_log2_hist/print_linear_hist byte for byte.
#include "coretrace/histogram.hpp"

#include <array>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using coretrace::format_linear_hist;
using coretrace::format_log2_hist;

TEST(Log2Histogram, EmptyPrintsNothing) {
    std::array<std::uint32_t, 36> slots{};
    EXPECT_EQ(format_log2_hist(slots, "usecs"), "");
}

TEST(Log2Histogram, MatchesLibbpfToolsLayout) {
    std::array<std::uint32_t, 36> slots{};
    slots[0] = 1;
    slots[2] = 10;
    slots[4] = 5;
    // Captured from libbpf-tools' cpudist (Debian 0.26) output layout.
    const char* expected =
        "     usecs               : count    distribution\n"
        "         0 -> 1          : 1        |****                                    |\n"
        "         2 -> 3          : 0        |                                        |\n"
        "         4 -> 7          : 10       |****************************************|\n"
        "         8 -> 15         : 0        |                                        |\n"
        "        16 -> 31         : 5        |********************                    |\n";
    EXPECT_EQ(format_log2_hist(slots, "usecs"), expected);
}

TEST(Log2Histogram, WideLayoutBeyondSlot32) {
    std::array<std::uint32_t, 36> slots{};
    slots[33] = 2;
    slots[1] = 1;
    std::string text = format_log2_hist(slots, "nsecs");
    EXPECT_EQ(text.substr(0, text.find('\n')),
              "               nsecs                         : count    distribution");
    // Wide rows: 20-wide bounds and a 20-star bar.
    EXPECT_NE(text.find("          8589934592 -> 17179869183          : 2        "
                        "|********************|\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("                   2 -> 3                    : 1        "
                        "|**********          |\n"),
              std::string::npos)
        << text;
}

TEST(LinearHistogram, SkipsEmptyRows) {
    std::array<std::uint32_t, 8> slots{};
    slots[1] = 4;
    slots[3] = 2;
    const char* expected =
        "     bytes         : count     distribution\n"
        "        10         : 4        |****************************************|\n"
        "        30         : 2        |********************                    |\n";
    EXPECT_EQ(format_linear_hist(slots, 0, 10, "bytes"), expected);
}

TEST(Log2Histogram, JsonBucketsCarryUnitAndBounds) {
    std::array<std::uint32_t, 36> slots{};
    slots[0] = 3;
    slots[3] = 7;
    auto json = coretrace::log2_hist_json(slots, "usecs");
    ASSERT_EQ(json.size(), 4u);
    EXPECT_EQ(json[0]["min_usecs"], 0);
    EXPECT_EQ(json[0]["max_usecs"], 1);
    EXPECT_EQ(json[3]["min_usecs"], 8);
    EXPECT_EQ(json[3]["max_usecs"], 15);
    EXPECT_EQ(json[3]["count"], 7);
    EXPECT_EQ(coretrace::hist_total(slots), 10u);
}
