// The trace_pipe entry parser of trace_pipe.hpp, fed lines as the kernel prints them (copied from
// this kernel's output) and the awkward cases: command names with spaces and dashes, the
// record-tgid column, no irq-info flags, multi-line messages, text that is not an entry.
#include "coretrace/trace_pipe.hpp"

#include <gtest/gtest.h>

using coretrace::parse_trace_line;

TEST(TraceLine, ParsesAKernelLine) {
    auto line = parse_trace_line("            perl-6518    [001] ...21  1349.727212: "
                                 "bpf_trace_printk: coretrace-hello[6520]: write #1 by PID 6518");
    ASSERT_TRUE(line);
    EXPECT_EQ(line->comm, "perl");
    EXPECT_EQ(line->pid, 6518);
    EXPECT_FALSE(line->tgid);
    EXPECT_EQ(line->cpu, 1);
    EXPECT_EQ(line->flags, "...21");
    EXPECT_EQ(line->timestamp, "1349.727212");
    EXPECT_EQ(line->event, "bpf_trace_printk");
    EXPECT_EQ(line->message, "coretrace-hello[6520]: write #1 by PID 6518");
}

TEST(TraceLine, RecordTgidColumn) {
    auto line = parse_trace_line("         python3-28953   (  28893) [000] ...21 30207.403869: "
                                 "bpf_trace_printk: ctprobe 28953");
    ASSERT_TRUE(line);
    EXPECT_EQ(line->comm, "python3");
    EXPECT_EQ(line->pid, 28953);
    ASSERT_TRUE(line->tgid);
    EXPECT_EQ(*line->tgid, 28893);
    EXPECT_EQ(line->cpu, 0);
    EXPECT_EQ(line->message, "ctprobe 28953");

    auto unknown = parse_trace_line(
        "           <...>-412     (-------) [001] d..2.   55.000100: bpf_trace_printk: x");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->comm, "<...>");
    EXPECT_EQ(unknown->pid, 412);
    EXPECT_FALSE(unknown->tgid);
    EXPECT_EQ(unknown->flags, "d..2.");
}

TEST(TraceLine, CommandNamesWithSpacesAndDashes) {
    auto line = parse_trace_line(
        "   my-app worker-12345   [003] ..... 100.000001: bpf_trace_printk: hi - [7] there");
    ASSERT_TRUE(line);
    EXPECT_EQ(line->comm, "my-app worker");
    EXPECT_EQ(line->pid, 12345);
    EXPECT_EQ(line->cpu, 3);
    EXPECT_EQ(line->message, "hi - [7] there");

    // A name that looks like the start of a header itself: the first " [N]" whose tail is not a
    // timestamp and an event is not the CPU field.
    auto tricky = parse_trace_line("x-7 [1]-42 [000] d..1 5.000001: bpf_trace_printk: m");
    ASSERT_TRUE(tricky);
    EXPECT_EQ(tricky->comm, "x-7 [1]");
    EXPECT_EQ(tricky->pid, 42);
    EXPECT_EQ(tricky->cpu, 0);
    EXPECT_EQ(tricky->message, "m");

    auto idle = parse_trace_line("          <idle>-0       [001] d.h2.   12.5: bpf_trace_printk: "
                                 "in irq: a: b");
    ASSERT_TRUE(idle);
    EXPECT_EQ(idle->comm, "<idle>");
    EXPECT_EQ(idle->pid, 0);
    EXPECT_EQ(idle->timestamp, "12.5");
    EXPECT_EQ(idle->message, "in irq: a: b");
}

TEST(TraceLine, WithoutFlagsAndOtherEvents) {
    // irq-info off: no flags field.
    auto bare = parse_trace_line("bash-9 [002] 77.000002: bpf_trace_printk: ok");
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->flags, "");
    EXPECT_EQ(bare->cpu, 2);
    EXPECT_EQ(bare->timestamp, "77.000002");
    // The kernel's own trace_printk names the function instead of an event.
    auto bprint = parse_trace_line("kworker/0:1-30 [000] ..... 8.000000: my_func: value 3");
    ASSERT_TRUE(bprint);
    EXPECT_EQ(bprint->comm, "kworker/0:1");
    EXPECT_EQ(bprint->event, "my_func");
    EXPECT_EQ(bprint->message, "value 3");
    // An empty message.
    auto empty = parse_trace_line("a-1 [000] ..... 1.000000: bpf_trace_printk: ");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->message, "");
    // trace_clock=counter: an integer timestamp.
    auto counter = parse_trace_line("a-1 [000] ..... 123456: bpf_trace_printk: n");
    ASSERT_TRUE(counter);
    EXPECT_EQ(counter->timestamp, "123456");
}

TEST(TraceLine, MultiLineMessageStaysWhole) {
    auto line = parse_trace_line("python3-28893 (  28893) [000] ...21 30207.404019: "
                                 "bpf_trace_printk: ctprobe 28893\nsecond line");
    ASSERT_TRUE(line);
    EXPECT_EQ(line->message, "ctprobe 28893\nsecond line");
}

TEST(TraceLine, RejectsWhatIsNoEntry) {
    for (const char* text :
         {"", "second line", "# tracer: nop", "#           TASK-PID     CPU#  |||||  TIMESTAMP",
          "perl-6518 [001] ...21 1349.727212 bpf_trace_printk: no colon after the time",
          "perl [001] ...21 1349.727212: bpf_trace_printk: no pid", "-5 [001] 1.0: e: no comm",
          "perl-65x18 [001] ...21 1.0: e: m", "perl-1 [0x1] ...21 1.0: e: m",
          "perl-1 [001] ...21 1.: e: m", "perl-1 [001] ...21 1.0: has space: m",
          "perl-1 (12ab) [001] ...21 1.0: e: m"})
        EXPECT_FALSE(parse_trace_line(text)) << text;
}
