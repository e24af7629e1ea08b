// System call numbers and names for the architecture coretrace is built for. The numbers are the
// kernel headers' own (__NR_* of <asm/unistd.h>, from linux-libc-dev), taken at compile time;
// a number the headers do not name (a call newer than them) prints as "[N]", as in libbpf-tools.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace coretrace::syscalls {

struct Entry {
    long number;
    std::string_view name;
};

// Every system call the headers define for this architecture, by number (then name: a number
// can have two names, such as fcntl64/fcntl on 32-bit arm; the first is the one printed).
std::span<const Entry> all();
// "read" for 0 on x86-64; "[N]" for a number the headers do not name.
std::string name(long number);
// The number of "read", "openat", ...; none for a name the headers do not define.
std::optional<long> number(std::string_view name);

} // namespace coretrace::syscalls
