// Kernel addresses to function names, from /proc/kallsyms (read once): text symbols of vmlinux and
// of loaded modules (with the module's name), and the reverse lookup of a symbol's address.
// When kallsyms hides addresses from us (kernel.kptr_restrict), every lookup is unknown and
// visible() is false, so that callers can say why once instead of printing zeros.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coretrace::symbols {

struct KernelSymbol {
    std::uint64_t address = 0;
    std::string name;
    std::string module; // "" for vmlinux, "ext4" for a symbol of module ext4
};

class KernelSymbols {
  public:
    // Reads /proc/kallsyms (or `path`, for tests). A file that cannot be read gives an empty table.
    explicit KernelSymbols(const std::string& path = "/proc/kallsyms");

    // The symbol whose range holds `address` (the last symbol at or below it), or nullptr when
    // the address is below every symbol or past the end of the last one's module.
    const KernelSymbol* find(std::uint64_t address) const;
    // The address of the text or data symbol `name` (the first one of that name).
    std::optional<std::uint64_t> address_of(std::string_view name) const;
    // False when kallsyms shows every address as 0 (kptr_restrict) or could not be read.
    bool visible() const { return !symbols_.empty(); }
    std::size_t size() const { return symbols_.size(); }

  private:
    std::vector<KernelSymbol> symbols_; // by address
};

} // namespace coretrace::symbols
