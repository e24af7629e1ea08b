// Stack addresses to frames: kernel addresses through /proc/kallsyms (with module names), user
// addresses through the process's mappings (/proc/PID/maps) and the mapped ELF files' symbols
// (.symtab, .dynsym, a debug file found by build id under /usr/lib/debug/.build-id or by
// .gnu_debuglink), the vdso, PIE executables and shared libraries. Deleted files and memfd
// mappings are still read (through /proc/PID/map_files) and marked as such in the module name.
//
// Each process's mappings and the symbols of its files are read once and kept (a file's symbols
// once for all the processes that map it), so a process that exits after remember(pid) still
// resolves. What cannot be resolved is "[unknown]", quietly; the counts of resolved and unknown
// frames are kept for -v and tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace coretrace::symbols {

class KernelSymbols;

struct Frame {
    std::uint64_t address = 0;
    std::string function;     // empty when unknown
    std::uint64_t offset = 0; // address - the function's start
    // Kernel: the module ("" for vmlinux). User: the mapped file's path, "[vdso]", a deleted
    // file as "PATH (deleted)", a memfd as "memfd:NAME (deleted)", "[anon]" for anonymous
    // executable memory (JIT code), or "" when no executable mapping holds the address.
    std::string module;

    bool known() const { return !function.empty(); }
    // "function", or "[unknown]".
    std::string name() const;
    // "function+0x1f", or "0xADDRESS" when unknown.
    std::string name_with_offset() const;
};

struct SymbolizerStats {
    std::uint64_t kernel_frames = 0, kernel_unknown = 0;
    std::uint64_t user_frames = 0, user_unknown = 0;
};

class Symbolizer {
  public:
    Symbolizer();
    ~Symbolizer();
    Symbolizer(const Symbolizer&) = delete;
    Symbolizer& operator=(const Symbolizer&) = delete;

    Frame kernel(std::uint64_t address);
    // An address in process `pid`. The process's mappings are read the first time (or at
    // remember()), and kept.
    Frame user(pid_t pid, std::uint64_t address);
    std::vector<Frame> kernel_stack(const std::vector<std::uint64_t>& addresses);
    std::vector<Frame> user_stack(pid_t pid, const std::vector<std::uint64_t>& addresses);

    // Reads the process's mappings and opens its files now, so that its addresses still resolve
    // after it exits. Returns false when the process is already gone. Cheap when already known.
    bool remember(pid_t pid);
    // Drops what is kept for `pid` (a PID that may be reused).
    void forget(pid_t pid);

    const SymbolizerStats& stats() const { return stats_; }
    // False when kallsyms hides kernel addresses (every kernel frame will be unknown).
    bool kernel_visible();

  private:
    struct State;
    const KernelSymbols& kernel_symbols();
    std::unique_ptr<State> state_;
    SymbolizerStats stats_;
};

} // namespace coretrace::symbols
