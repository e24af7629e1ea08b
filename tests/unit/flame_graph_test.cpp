// Folded stacks and the SVG flame graph: merged stacks, widths proportional to counts, names
// escaped for XML, hover titles.
#include "coretrace/flame_graph.hpp"
#include "coretrace/stack_traces.hpp"

#include <gtest/gtest.h>
#include <sstream>

using namespace coretrace;
using flame::FrameKind;
using flame::Stack;

namespace {
std::vector<Stack> sample_stacks() {
    return {
        {{{"app", FrameKind::other}, {"main", FrameKind::user}, {"hot", FrameKind::user}}, 90},
        {{{"app", FrameKind::other}, {"main", FrameKind::user}, {"cold", FrameKind::user}}, 10},
        {{{"app", FrameKind::other}, {"main", FrameKind::user}, {"hot", FrameKind::user}}, 0},
    };
}
} // namespace

TEST(FlameGraph, FoldedLinesAreRootFirstWithCounts) {
    auto stacks = sample_stacks();
    stacks.push_back({{{"a;b", FrameKind::user}, {"c\nd", FrameKind::kernel}}, 3});
    EXPECT_EQ(flame::folded(stacks), "app;main;hot 90\napp;main;cold 10\na_b;c_d 3\n");
}

TEST(FlameGraph, SvgWidthsFollowCounts) {
    std::ostringstream out;
    flame::write_svg(out, sample_stacks(), {"Profile", "samples", 1020});
    const std::string svg = out.str();
    EXPECT_TRUE(svg.starts_with("<?xml")) << svg.substr(0, 50);
    EXPECT_NE(svg.find("<title>hot (90 samples, 90.00%)</title>"), std::string::npos);
    EXPECT_NE(svg.find("<title>cold (10 samples, 10.00%)</title>"), std::string::npos);
    EXPECT_NE(svg.find("<title>all (100 samples, 100.00%)</title>"), std::string::npos);
    // 1000 px usable: hot is 900 px wide, cold 100 px.
    EXPECT_NE(svg.find("width=\"900.0\""), std::string::npos);
    EXPECT_NE(svg.find("width=\"100.0\""), std::string::npos);
    EXPECT_NE(svg.find(">hot</text>"), std::string::npos);
    EXPECT_EQ(svg.find("<script"), std::string::npos);
    EXPECT_TRUE(svg.ends_with("</svg>\n"));
}

TEST(FlameGraph, NamesAreEscaped) {
    std::ostringstream out;
    flame::write_svg(out, {{{{"std::vector<int>::push_back&\"x\"", FrameKind::user}}, 1}}, {});
    const std::string svg = out.str();
    EXPECT_EQ(svg.find("<int>"), std::string::npos);
    EXPECT_NE(svg.find("std::vector&lt;int&gt;::push_back&amp;&quot;x&quot;"), std::string::npos);
}

TEST(FlameGraph, EmptyInputIsAValidEmptyGraph) {
    std::ostringstream out;
    flame::write_svg(out, {}, {});
    EXPECT_NE(out.str().find("0 samples in all"), std::string::npos);
    EXPECT_TRUE(out.str().ends_with("</svg>\n"));
}

TEST(StackTraces, TracingFramesAreRecognized) {
    EXPECT_TRUE(stacks::is_tracing_frame("bpf_prog_6deef7357e7b4530_on_switch"));
    EXPECT_TRUE(stacks::is_tracing_frame("__traceiter_sched_switch"));
    EXPECT_TRUE(stacks::is_tracing_frame("bpf_trace_run4"));
    EXPECT_FALSE(stacks::is_tracing_frame("schedule"));
    EXPECT_TRUE(stacks::read(-1, 3).empty());
    EXPECT_TRUE(stacks::read(3, -14).empty());
}
