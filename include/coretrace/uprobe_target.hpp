// A user-space function named the way libbpf-tools' funclatency and bpftrace name it:
// "lib:func" (a library found through the dynamic loader's paths, or through the maps of the
// traced process with -p), "/path/to/bin:func", ":func" (the program of the traced process);
// resolved to the file and the file offset a
// uprobe or uretprobe attaches at, with one-line errors for a missing file, a missing function,
// a stripped binary and an ifunc.
#pragma once

#include "coretrace/link.hpp"

#include <bpf/libbpf.h>
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace coretrace::uprobe {

struct Spec {
    std::string binary;   // "libc.so.6", "libc", "/usr/bin/bash"; empty: see `user`
    std::string function; // symbol name
    bool user = true;     // false: a kernel function (no ':'); true with no binary: ":func"
};

// Splits "BINARY:FUNCTION" at its last ':'; ":FUNCTION" is a function of the traced process's
// program; a text without ':' is a kernel function. Throws Error for an empty function ("libc:").
Spec parse(std::string_view text);

struct Target {
    Spec spec;
    std::string path;          // the file to attach to, readable from here
    std::uint64_t address = 0; // the function's virtual address in the file's layout
    std::uint64_t offset = 0;  // its file offset: where the uprobe goes
    pid_t pid = -1;            // only this process (-1: every process that maps the file)
};

// Finds the file (with pid > 0 among the files that process maps, else through the loader's
// paths; ":func" needs a pid) and the function in it. Throws Error: no such file, not an ELF file,
// no process with that PID, a process that does not map the file, "FILE is stripped" (no .symtab,
// and the function is not in .dynsym), no such function, an ifunc, an address outside the file.
Target resolve(const Spec& spec, pid_t pid = -1);

// Attaches `program` (SEC("uprobe") or SEC("uretprobe")) at `target`. Throws Error naming it.
Link attach(bpf_program* program, const Target& target, bool retprobe, std::uint64_t cookie = 0);

// "libc.so.6:malloc", for messages and output.
std::string describe(const Spec& spec);

} // namespace coretrace::uprobe
