// The pieces of `coretrace list` that need no kernel: the wildcard matcher and the tracefs
// format-file parser (fed a real sys_enter_openat format and edge cases).
#include "coretrace/error.hpp"
#include "coretrace/tracefs_events.hpp"
#include "coretrace/wildcard.hpp"

#include <cstdio>
#include <cstdlib>
#include <gtest/gtest.h>
#include <unistd.h>

using coretrace::wildcard_match;
namespace tracefs = coretrace::tracefs;

TEST(Wildcard, LiteralsStarsAndQuestionMarks) {
    EXPECT_TRUE(wildcard_match("sys_enter_openat", "sys_enter_openat"));
    EXPECT_FALSE(wildcard_match("sys_enter_openat", "sys_enter_openat2"));
    EXPECT_FALSE(wildcard_match("sys_enter_openat2", "sys_enter_openat"));
    EXPECT_TRUE(wildcard_match("*", ""));
    EXPECT_TRUE(wildcard_match("*", "anything:at:all"));
    EXPECT_FALSE(wildcard_match("", "x"));
    EXPECT_TRUE(wildcard_match("", ""));
    EXPECT_TRUE(wildcard_match("*open*", "sys_enter_openat"));
    EXPECT_TRUE(wildcard_match("*open*", "open"));
    EXPECT_FALSE(wildcard_match("*open*", "opn"));
    EXPECT_TRUE(wildcard_match("syscalls:*open*", "syscalls:sys_exit_open_by_handle_at"));
    EXPECT_FALSE(wildcard_match("syscalls:*open*", "sched:sched_process_open"));
    EXPECT_TRUE(wildcard_match("sys_?nter_*", "sys_enter_read"));
    EXPECT_FALSE(wildcard_match("sys_?nter_*", "sys_nter_read"));
    EXPECT_TRUE(wildcard_match("a*b*c", "aXXbYYbZc"));
    EXPECT_FALSE(wildcard_match("a*b*c", "aXXbYYbZ"));
    EXPECT_TRUE(wildcard_match("*at", "openatat")); // backtracking past a first partial match
    EXPECT_TRUE(wildcard_match("**x**", "x"));
    EXPECT_TRUE(wildcard_match("a?", "a*")); // a '*' in the text is an ordinary character
    EXPECT_FALSE(wildcard_match("a?", "a"));
}

TEST(Wildcard, HasWildcard) {
    EXPECT_TRUE(coretrace::has_wildcard("sys_*"));
    EXPECT_TRUE(coretrace::has_wildcard("s?s"));
    EXPECT_FALSE(coretrace::has_wildcard("tracepoint"));
}

TEST(TracefsFormat, ParsesAnOpenatFormatFile) {
    constexpr const char* text =
        "name: sys_enter_openat\n"
        "ID: 782\n"
        "format:\n"
        "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
        "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
        "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
        "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
        "\n"
        "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n"
        "\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n"
        "\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n"
        "\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;\n"
        "\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;\n"
        "\n"
        "print fmt: \"dfd: 0x%08lx, filename: 0x%08lx\", ((unsigned long)(REC->dfd))\n";
    auto format = tracefs::parse_format(text);
    EXPECT_EQ(format.name, "sys_enter_openat");
    EXPECT_EQ(format.id, 782u);
    ASSERT_EQ(format.fields.size(), 9u);
    EXPECT_TRUE(format.fields[0].common);
    EXPECT_EQ(format.fields[0].type, "unsigned short");
    EXPECT_EQ(format.fields[0].name, "common_type");
    EXPECT_EQ(format.fields[3].is_signed, true);
    const auto& filename = format.fields[6];
    EXPECT_FALSE(filename.common);
    EXPECT_EQ(filename.declaration, "const char * filename");
    EXPECT_EQ(filename.type, "const char *");
    EXPECT_EQ(filename.name, "filename");
    EXPECT_EQ(filename.offset, 24u);
    EXPECT_EQ(filename.size, 8u);
    EXPECT_FALSE(filename.is_signed);
    EXPECT_EQ(format.fields[8].type, "umode_t");
    EXPECT_EQ(format.fields[8].name, "mode");
    EXPECT_EQ(format.fields[4].name, "__syscall_nr");
    EXPECT_TRUE(format.fields[4].is_signed);
}

TEST(TracefsFormat, ArraysDataLocAndPointers) {
    std::string type, name;
    tracefs::split_declaration("char comm[16]", type, name);
    EXPECT_EQ(type, "char[16]");
    EXPECT_EQ(name, "comm");
    tracefs::split_declaration("__data_loc char[] name", type, name);
    EXPECT_EQ(type, "__data_loc char[]");
    EXPECT_EQ(name, "name");
    tracefs::split_declaration("struct task_struct *prev", type, name);
    EXPECT_EQ(type, "struct task_struct *");
    EXPECT_EQ(name, "prev");
    tracefs::split_declaration("__u8 saddr[sizeof(struct sockaddr_in6)]", type, name);
    EXPECT_EQ(type, "__u8[sizeof(struct sockaddr_in6)]");
    EXPECT_EQ(name, "saddr");
    tracefs::split_declaration("unsigned long args[6]", type, name);
    EXPECT_EQ(type, "unsigned long[6]");
    EXPECT_EQ(name, "args");
}

TEST(TracefsFormat, MalformedFieldLinesAreErrors) {
    EXPECT_THROW(tracefs::parse_format("field:int x;\toffset:zero;\tsize:4;\tsigned:1;\n"),
                 coretrace::Error);
    EXPECT_THROW(tracefs::parse_format("field:int x;\n"), coretrace::Error);
    // Lines it does not know, and an empty file, are not errors.
    EXPECT_TRUE(tracefs::parse_format("").fields.empty());
    EXPECT_EQ(tracefs::parse_format("name: x\nsomething: else\n").name, "x");
}

TEST(TracefsFormat, ListsEventsFromAFakeTracefs) {
    char dir[] = "/tmp/coretrace-list-tracefs-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    std::string root = dir;
    FILE* f = std::fopen((root + "/available_events").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("syscalls:sys_enter_openat\nsched:sched_switch\n\nbogus\nsched:sched_switch\n", f);
    std::fclose(f);
    auto events = tracefs::list_events(root);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0], (tracefs::EventName{"sched", "sched_switch"}));
    EXPECT_EQ(events[1], (tracefs::EventName{"syscalls", "sys_enter_openat"}));
    std::remove((root + "/available_events").c_str());
    ::rmdir(dir);
    EXPECT_THROW(tracefs::list_events(root), coretrace::Error);
}
