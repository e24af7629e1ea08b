// One ELF file's function symbols and load segments (see object_symbols.hpp).
#include "coretrace/object_symbols.hpp"

#include "coretrace/elf_file.hpp"
#include "coretrace/log.hpp"

#include <algorithm>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

namespace coretrace::symbols {
namespace {

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// The CRC-32 (zlib's) of a whole file, as .gnu_debuglink records it; nullopt when unreadable.
std::optional<std::uint32_t> file_crc(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::nullopt;
    uLong crc = crc32(0L, Z_NULL, 0);
    unsigned char chunk[1 << 16];
    ssize_t n;
    while ((n = ::read(fd, chunk, sizeof(chunk))) > 0)
        crc = crc32(crc, chunk, static_cast<uInt>(n));
    ::close(fd);
    if (n < 0)
        return std::nullopt;
    return static_cast<std::uint32_t>(crc);
}

// The separate debug file of `file` (named `path` inside `root`), or "".
std::string find_debug_file(const elf::File& file, const std::string& path,
                            const std::string& root) {
    std::vector<std::string> roots{root};
    if (!root.empty())
        roots.push_back("");
    if (const std::string id = file.build_id(); id.size() > 2) {
        for (const auto& r : roots) {
            std::string candidate = fmt::format("{}/usr/lib/debug/.build-id/{}/{}.debug", r,
                                                id.substr(0, 2), id.substr(2));
            if (exists(candidate))
                return candidate;
        }
    }
    // .gnu_debuglink: the file name, NUL, padding to 4 bytes, then the CRC-32 of the debug file.
    const std::string_view link = file.section_data(".gnu_debuglink");
    const auto end = link.find('\0');
    if (end == std::string_view::npos || end == 0)
        return {};
    const std::string name(link.substr(0, end));
    const std::size_t crc_at = (end + 4) & ~std::size_t{3};
    if (crc_at + 4 > link.size())
        return {};
    std::uint32_t crc = 0;
    std::memcpy(&crc, link.data() + crc_at, 4);
    const std::string dir = directory_of(path);
    for (const auto& r : roots) {
        for (const std::string& candidate : {r + dir + "/" + name, r + dir + "/.debug/" + name,
                                             r + "/usr/lib/debug" + dir + "/" + name}) {
            if (!exists(candidate))
                continue;
            if (file_crc(candidate) == crc)
                return candidate;
            log::debug("{}: {} does not match its .gnu_debuglink CRC; not used", path, candidate);
        }
    }
    return {};
}

void add_functions(const elf::File& file, std::vector<FunctionSymbol>& out) {
    for (auto& symbol : file.symbols())
        if (symbol.is_function() && symbol.address != 0)
            out.push_back({symbol.address, symbol.size, std::move(symbol.name)});
}

} // namespace

ObjectSymbols::ObjectSymbols(const elf::File& file, const std::string& path,
                             const std::string& root) {
    for (const auto& segment : file.load_segments())
        segments_.push_back({segment.offset, segment.file_size, segment.address});
    add_functions(file, functions_);
    if (!file.has_symtab()) {
        if (std::string debug = find_debug_file(file, path, root); !debug.empty()) {
            try {
                add_functions(elf::File(debug), functions_);
                debug_file_ = std::move(debug);
            } catch (const std::exception& e) {
                log::debug("{}: debug file not read: {}", path, e.what());
            }
        }
    }
    // By address; of several names for one address, a sized one first, then the first read
    // (.symtab before .dynsym), so that a local function's name beats an alias.
    std::stable_sort(functions_.begin(), functions_.end(),
                     [](const FunctionSymbol& a, const FunctionSymbol& b) {
                         if (a.address != b.address)
                             return a.address < b.address;
                         return (a.size != 0) > (b.size != 0);
                     });
    functions_.erase(std::unique(functions_.begin(), functions_.end(),
                                 [](const FunctionSymbol& a, const FunctionSymbol& b) {
                                     return a.address == b.address;
                                 }),
                     functions_.end());
}

ObjectSymbols ObjectSymbols::read(const std::string& path) {
    return ObjectSymbols(elf::File(path), path);
}

std::optional<std::uint64_t> ObjectSymbols::address_at_offset(std::uint64_t offset) const {
    for (const auto& segment : segments_)
        if (offset >= segment.offset && offset < segment.offset + segment.size)
            return offset - segment.offset + segment.address;
    return std::nullopt;
}

const FunctionSymbol* ObjectSymbols::find(std::uint64_t address) const {
    auto after = std::upper_bound(
        functions_.begin(), functions_.end(), address,
        [](std::uint64_t value, const FunctionSymbol& symbol) { return value < symbol.address; });
    if (after == functions_.begin())
        return nullptr;
    const FunctionSymbol& symbol = *std::prev(after);
    if (symbol.size != 0 && address >= symbol.address + symbol.size)
        return nullptr; // in a gap: padding, a PLT, code without a symbol
    return &symbol;
}

} // namespace coretrace::symbols
