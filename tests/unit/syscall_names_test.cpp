// The system call table against the kernel headers it comes from: the __NR_ macros seen by the
// compiler here, and every "#define __NR_x N" of the installed header file for this
// architecture, so a call the headers gain (or a number they change) cannot go unnoticed.
#include "coretrace/syscall_names.hpp"

#include <asm/unistd.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <regex>
#include <set>
#include <sys/syscall.h>

namespace sc = coretrace::syscalls;

TEST(SyscallNames, KnownNumbersMatchTheCompilersMacros) {
    EXPECT_EQ(sc::name(__NR_read), "read");
    EXPECT_EQ(sc::name(__NR_write), "write");
    EXPECT_EQ(sc::name(__NR_getppid), "getppid");
    EXPECT_EQ(sc::name(__NR_openat), "openat");
    EXPECT_EQ(sc::name(SYS_execve), "execve");
    EXPECT_EQ(sc::number("getppid"), __NR_getppid);
    EXPECT_EQ(sc::number("openat"), __NR_openat);
    EXPECT_EQ(sc::number("statx"), __NR_statx);
    EXPECT_EQ(sc::number("fsync"), __NR_fsync);
#ifdef __x86_64__
    // Fixed by the x86-64 ABI, so safe to state outright.
    EXPECT_EQ(sc::name(0), "read");
    EXPECT_EQ(sc::name(39), "getpid");
    EXPECT_EQ(sc::name(110), "getppid");
    EXPECT_EQ(sc::name(257), "openat");
    EXPECT_EQ(sc::name(332), "statx");
    EXPECT_EQ(sc::number("newfstatat"), 262);
    // i386-only and asm-generic-only names are not x86-64 calls.
    EXPECT_FALSE(sc::number("stat64").has_value());
    EXPECT_FALSE(sc::number("fcntl64").has_value());
#endif
}

TEST(SyscallNames, UnknownNumbersPrintInBrackets) {
    EXPECT_EQ(sc::name(-1), "[-1]");
    EXPECT_EQ(sc::name(100000), "[100000]");
    EXPECT_FALSE(sc::number("no_such_call").has_value());
    EXPECT_FALSE(sc::number("").has_value());
}

TEST(SyscallNames, TableIsSortedAndConsistent) {
    auto all = sc::all();
    ASSERT_GT(all.size(), 300u);
    std::set<std::string_view> names;
    for (std::size_t i = 0; i < all.size(); i++) {
        if (i > 0) {
            EXPECT_LE(all[i - 1].number, all[i].number);
        }
        EXPECT_GE(all[i].number, 0);
        EXPECT_TRUE(names.insert(all[i].name).second) << all[i].name;
        EXPECT_EQ(sc::number(all[i].name), all[i].number) << all[i].name;
    }
}

// Every __NR_ macro of the header file itself, by reading it: the table misses none.
TEST(SyscallNames, EveryNumberOfTheInstalledHeaderIsNamed) {
#if !defined(__x86_64__) || defined(__ILP32__)
    GTEST_SKIP() << "the header file check is written for x86-64";
#endif
    std::string path;
    for (const char* candidate :
         {"/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"})
        if (std::filesystem::exists(candidate)) {
            path = candidate;
            break;
        }
    if (path.empty())
        GTEST_SKIP() << "no asm/unistd_64.h under /usr/include";
    std::ifstream in(path);
    const std::regex define(R"(^#define __NR_([a-z0-9_]+)\s+([0-9]+)\s*$)");
    std::string line;
    int seen = 0;
    while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_match(line, m, define))
            continue;
        seen++;
        const long number = std::stol(m[2]);
        EXPECT_EQ(sc::number(m[1].str()), number) << line;
        EXPECT_EQ(sc::name(number), m[1].str()) << line;
    }
    EXPECT_GT(seen, 300) << path;
}
