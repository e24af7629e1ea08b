// /proc/kallsyms, read once into a table sorted by address (see kernel_symbols.hpp).
#include "coretrace/kernel_symbols.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <string_view>

namespace coretrace::symbols {
namespace {

// A symbol this far past the last one is not in it: the end of the kernel's text or of a module.
constexpr std::uint64_t last_symbol_reach = 64 * 1024;

// "ffffffff81000000 T _stext" or "ffffffffc0a01000 t ext4_fill_super\t[ext4]".
bool parse_line(std::string_view line, KernelSymbol& out) {
    const auto space = line.find(' ');
    if (space == std::string_view::npos || line.size() < space + 4)
        return false;
    std::uint64_t address = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + space, address, 16);
    if (ec != std::errc() || end != line.data() + space)
        return false;
    std::string_view rest = line.substr(space + 3); // after the type letter and its space
    std::string_view module;
    if (const auto tab = rest.find('\t'); tab != std::string_view::npos) {
        module = rest.substr(tab + 1);
        rest = rest.substr(0, tab);
        if (module.size() >= 2 && module.front() == '[' && module.back() == ']')
            module = module.substr(1, module.size() - 2);
    }
    if (rest.empty())
        return false;
    out.address = address;
    out.name.assign(rest);
    out.module.assign(module);
    return true;
}

} // namespace

KernelSymbols::KernelSymbols(const std::string& path) {
    std::FILE* file = std::fopen(path.c_str(), "re");
    if (!file)
        return;
    char* buffer = nullptr;
    std::size_t capacity = 0;
    bool any_address = false;
    for (ssize_t n; (n = ::getline(&buffer, &capacity, file)) > 0;) {
        std::string_view line(buffer, static_cast<std::size_t>(n));
        if (line.back() == '\n')
            line.remove_suffix(1);
        KernelSymbol symbol;
        if (!parse_line(line, symbol))
            continue;
        any_address = any_address || symbol.address != 0;
        symbols_.push_back(std::move(symbol));
    }
    std::free(buffer);
    std::fclose(file);
    if (!any_address) { // kptr_restrict: every address reads as 0
        symbols_.clear();
        return;
    }
    std::stable_sort(
        symbols_.begin(), symbols_.end(),
        [](const KernelSymbol& a, const KernelSymbol& b) { return a.address < b.address; });
}

const KernelSymbol* KernelSymbols::find(std::uint64_t address) const {
    auto after = std::upper_bound(
        symbols_.begin(), symbols_.end(), address,
        [](std::uint64_t value, const KernelSymbol& symbol) { return value < symbol.address; });
    if (after == symbols_.begin())
        return nullptr;
    const KernelSymbol& symbol = *std::prev(after);
    if (symbol.address == 0)
        return nullptr;
    // The last symbol of the table, or of a module (the next one belongs to another), has no
    // end to compare with: only addresses close to it are taken as its own.
    const bool bounded = after != symbols_.end() && after->module == symbol.module;
    if (!bounded && address - symbol.address > last_symbol_reach)
        return nullptr;
    return &symbol;
}

std::optional<std::uint64_t> KernelSymbols::address_of(std::string_view name) const {
    for (const auto& symbol : symbols_)
        if (symbol.name == name)
            return symbol.address;
    return std::nullopt;
}

} // namespace coretrace::symbols
