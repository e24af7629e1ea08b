// USDT probes (systemtap's <sys/sdt.h>) of an ELF file, from its .note.stapsdt notes: each
// holds the probe's address, the link-time address of .stapsdt.base, the address of its
// semaphore (0 if none), then "provider\0name\0arguments\0".
#pragma once

#include "coretrace/elf_file.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace coretrace::usdt {

struct Probe {
    std::string provider, name;
    // Addresses after the prelink adjustment (the note's base against .stapsdt.base's actual
    // address), in the file's virtual address space.
    std::uint64_t pc = 0;
    std::uint64_t base = 0;      // the note's .stapsdt.base address, as written
    std::uint64_t semaphore = 0; // 0: the probe has no semaphore
    // File offsets of pc and of the semaphore (what a uprobe and its ref_ctr_offset need).
    std::optional<std::uint64_t> pc_offset, semaphore_offset;
    std::string arguments; // e.g. "-4@%edi 8@%rsi" (empty if none)

    // `arguments` split at spaces: "-4@%edi", "8@%rsi".
    std::vector<std::string> argument_specs() const;
};

// Every USDT probe of `file`, in note order. Throws Error for a malformed note.
std::vector<Probe> probes(const elf::File& file);

} // namespace coretrace::usdt
