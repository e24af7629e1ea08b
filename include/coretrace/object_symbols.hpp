// The function symbols of one ELF file, for turning addresses into names: from its .symtab, or,
// when it was stripped, from its separate debug file (found by build id under
// /usr/lib/debug/.build-id, or by .gnu_debuglink next to it, in its .debug/ directory or under
// /usr/lib/debug, with the link's CRC checked), and always its .dynsym. Its PT_LOAD segments are
// kept too, to turn an offset in the file (what /proc/PID/maps gives) into the address the
// symbols use. Everything is read at construction: the file can go away afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace coretrace::elf {
class File;
}

namespace coretrace::symbols {

struct FunctionSymbol {
    std::uint64_t address = 0;
    std::uint64_t size = 0; // 0: unknown (assembly), the symbol reaches the next one
    std::string name;
};

class ObjectSymbols {
  public:
    // `file` opened from wherever it can be read (perhaps /proc/PID/map_files/...); `path` is its
    // name on the system (or in the process's root `root`, "" for ours), where the debug file
    // is looked for.
    ObjectSymbols(const elf::File& file, const std::string& path, const std::string& root = "");
    // Opens and reads `path`; throws Error when it cannot be read or is not ELF.
    static ObjectSymbols read(const std::string& path);

    // The address (in the symbols' terms) of byte `offset` of the file; nullopt outside every
    // loadable segment.
    std::optional<std::uint64_t> address_at_offset(std::uint64_t offset) const;
    // The function holding `address`, or nullptr.
    const FunctionSymbol* find(std::uint64_t address) const;

    std::size_t size() const { return functions_.size(); }
    // The debug file the symbols came from, "" when none was used.
    const std::string& debug_file() const { return debug_file_; }

  private:
    struct Segment {
        std::uint64_t offset, size, address;
    };
    std::vector<Segment> segments_;
    std::vector<FunctionSymbol> functions_; // by address
    std::string debug_file_;
};

} // namespace coretrace::symbols
