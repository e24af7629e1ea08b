// libelf readers. Symbols come from both tables because stripped libraries keep only .dynsym
// while executables may have only .symtab; offsets go through program headers, the way the
// kernel maps the file, so they are right for PIE, non-PIE and prelinked objects alike.
#include "coretrace/elf_file.hpp"

#include "coretrace/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace coretrace::elf {

bool Symbol::is_function() const {
    return type == STT_FUNC || type == STT_GNU_IFUNC;
}

std::string_view Symbol::type_name() const {
    switch (type) {
    case STT_NOTYPE:
        return "notype";
    case STT_OBJECT:
        return "object";
    case STT_FUNC:
        return "func";
    case STT_SECTION:
        return "section";
    case STT_FILE:
        return "file";
    case STT_COMMON:
        return "common";
    case STT_TLS:
        return "tls";
    case STT_GNU_IFUNC:
        return "ifunc";
    default:
        return "other";
    }
}

std::string_view Symbol::binding_name() const {
    switch (binding) {
    case STB_LOCAL:
        return "local";
    case STB_GLOBAL:
        return "global";
    case STB_WEAK:
        return "weak";
    case STB_GNU_UNIQUE:
        return "unique";
    default:
        return "other";
    }
}

File::File(const std::string& path) : path_(path) {
    if (elf_version(EV_CURRENT) == EV_NONE)
        throw Error("libelf is too old");
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
        throw_system_error(path, errno);
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && !S_ISREG(st.st_mode)) {
        ::close(fd_);
        throw Error(path + " is not a regular file");
    }
    elf_ = elf_begin(fd_, ELF_C_READ_MMAP, nullptr);
    if (!elf_ || elf_kind(elf_) != ELF_K_ELF) {
        if (elf_)
            elf_end(elf_);
        ::close(fd_);
        throw Error(path + " is not an ELF file");
    }
}

File File::from_memory(std::string name, std::string_view image) {
    if (elf_version(EV_CURRENT) == EV_NONE)
        throw Error("libelf is too old");
    File file;
    file.path_ = std::move(name);
    file.memory_.assign(image);
    file.elf_ = elf_memory(file.memory_.data(), file.memory_.size());
    if (!file.elf_ || elf_kind(file.elf_) != ELF_K_ELF)
        throw Error(file.path_ + " is not an ELF image");
    return file;
}

File::~File() {
    if (elf_)
        elf_end(elf_);
    if (fd_ >= 0)
        ::close(fd_);
}

File::File(File&& other) noexcept
    : path_(std::move(other.path_)), memory_(std::move(other.memory_)),
      fd_(std::exchange(other.fd_, -1)), elf_(std::exchange(other.elf_, nullptr)) {}

File& File::operator=(File&& other) noexcept {
    if (this != &other) {
        if (elf_)
            elf_end(elf_);
        if (fd_ >= 0)
            ::close(fd_);
        path_ = std::move(other.path_);
        memory_ = std::move(other.memory_);
        fd_ = std::exchange(other.fd_, -1);
        elf_ = std::exchange(other.elf_, nullptr);
    }
    return *this;
}

bool File::is_64bit() const {
    return gelf_getclass(elf_) == ELFCLASS64;
}

bool File::little_endian() const {
    const char* ident = elf_getident(elf_, nullptr);
    return ident && ident[EI_DATA] == ELFDATA2LSB;
}

unsigned File::type() const {
    GElf_Ehdr header;
    return gelf_getehdr(elf_, &header) ? header.e_type : 0;
}

std::vector<Symbol> File::symbols() const {
    std::vector<Symbol> result;
    std::set<std::pair<std::string_view, std::uint64_t>> seen;
    std::vector<Symbol> dynamic;
    for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(elf_, scn)) != nullptr;) {
        GElf_Shdr shdr;
        if (!gelf_getshdr(scn, &shdr) || (shdr.sh_type != SHT_SYMTAB && shdr.sh_type != SHT_DYNSYM))
            continue;
        Elf_Data* data = elf_getdata(scn, nullptr);
        if (!data || shdr.sh_entsize == 0)
            continue;
        bool is_dynamic = shdr.sh_type == SHT_DYNSYM;
        auto& out = is_dynamic ? dynamic : result;
        std::size_t count = shdr.sh_size / shdr.sh_entsize;
        for (std::size_t i = 0; i < count; i++) {
            GElf_Sym sym;
            if (!gelf_getsym(data, static_cast<int>(i), &sym) || sym.st_shndx == SHN_UNDEF)
                continue;
            const char* name = elf_strptr(elf_, shdr.sh_link, sym.st_name);
            if (!name || !*name)
                continue;
            out.push_back({name, sym.st_value, sym.st_size,
                           static_cast<unsigned char>(GELF_ST_TYPE(sym.st_info)),
                           static_cast<unsigned char>(GELF_ST_BIND(sym.st_info)), is_dynamic});
        }
    }
    for (const auto& s : result)
        seen.emplace(s.name, s.address);
    for (auto& s : dynamic)
        if (!seen.contains({s.name, s.address}))
            result.push_back(std::move(s));
    return result;
}

std::vector<Symbol> File::functions() const {
    std::vector<Symbol> all = symbols(), functions;
    std::set<std::string> names;
    for (auto& s : all)
        if (s.is_function() && s.address != 0 && names.insert(s.name).second)
            functions.push_back(std::move(s));
    return functions;
}

std::optional<Symbol> File::find_symbol(std::string_view name) const {
    for (auto& s : symbols())
        if (s.name == name)
            return s;
    return std::nullopt;
}

std::optional<std::uint64_t> File::file_offset(std::uint64_t address) const {
    for (const auto& segment : load_segments())
        if (address >= segment.address && address < segment.address + segment.memory_size)
            return address - segment.address + segment.offset;
    return std::nullopt;
}

std::vector<LoadSegment> File::load_segments() const {
    std::vector<LoadSegment> segments;
    std::size_t count = 0;
    if (elf_getphdrnum(elf_, &count) != 0)
        return segments;
    for (std::size_t i = 0; i < count; i++) {
        GElf_Phdr phdr;
        if (gelf_getphdr(elf_, static_cast<int>(i), &phdr) && phdr.p_type == PT_LOAD)
            segments.push_back({phdr.p_offset, phdr.p_filesz, phdr.p_vaddr, phdr.p_memsz});
    }
    return segments;
}

std::string_view File::section_data(std::string_view name) const {
    std::size_t strings = 0;
    if (elf_getshdrstrndx(elf_, &strings) != 0)
        return {};
    for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(elf_, scn)) != nullptr;) {
        GElf_Shdr shdr;
        if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS)
            continue;
        const char* section_name = elf_strptr(elf_, strings, shdr.sh_name);
        if (!section_name || name != section_name)
            continue;
        Elf_Data* data = elf_getdata(scn, nullptr);
        if (!data || !data->d_buf)
            return {};
        return {static_cast<const char*>(data->d_buf), data->d_size};
    }
    return {};
}

std::string File::build_id() const {
    for (const auto& note : notes("GNU")) {
        if (note.type != NT_GNU_BUILD_ID)
            continue;
        std::string hex;
        for (unsigned char byte : note.desc) {
            constexpr char digits[] = "0123456789abcdef";
            hex += digits[byte >> 4];
            hex += digits[byte & 15];
        }
        return hex;
    }
    return {};
}

bool File::has_symtab() const {
    for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(elf_, scn)) != nullptr;) {
        GElf_Shdr shdr;
        if (gelf_getshdr(scn, &shdr) && shdr.sh_type == SHT_SYMTAB)
            return true;
    }
    return false;
}

std::optional<Section> File::section(std::string_view name) const {
    std::size_t strings = 0;
    if (elf_getshdrstrndx(elf_, &strings) != 0)
        return std::nullopt;
    for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(elf_, scn)) != nullptr;) {
        GElf_Shdr shdr;
        if (!gelf_getshdr(scn, &shdr))
            continue;
        const char* section_name = elf_strptr(elf_, strings, shdr.sh_name);
        if (section_name && name == section_name)
            return Section{section_name, shdr.sh_addr, shdr.sh_offset, shdr.sh_size};
    }
    return std::nullopt;
}

namespace {
void collect_notes(Elf_Data* data, std::string_view owner, std::vector<Note>& notes) {
    if (!data)
        return;
    std::size_t offset = 0, name_offset = 0, desc_offset = 0;
    GElf_Nhdr header;
    while ((offset = gelf_getnote(data, offset, &header, &name_offset, &desc_offset)) > 0) {
        const char* base = static_cast<const char*>(data->d_buf);
        std::string_view name(base + name_offset, header.n_namesz);
        while (!name.empty() && name.back() == '\0')
            name.remove_suffix(1);
        if (owner.empty() || name == owner)
            notes.push_back({std::string(name), header.n_type,
                             std::string_view(base + desc_offset, header.n_descsz)});
    }
}
} // namespace

std::vector<Note> File::notes(std::string_view owner) const {
    std::vector<Note> notes;
    bool any_section = false;
    for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(elf_, scn)) != nullptr;) {
        GElf_Shdr shdr;
        if (!gelf_getshdr(scn, &shdr))
            continue;
        any_section = true;
        if (shdr.sh_type == SHT_NOTE)
            collect_notes(elf_getdata(scn, nullptr), owner, notes);
    }
    if (any_section)
        return notes;
    std::size_t count = 0;
    if (elf_getphdrnum(elf_, &count) != 0)
        return notes;
    for (std::size_t i = 0; i < count; i++) {
        GElf_Phdr phdr;
        if (!gelf_getphdr(elf_, static_cast<int>(i), &phdr) || phdr.p_type != PT_NOTE)
            continue;
        collect_notes(elf_getdata_rawchunk(elf_, static_cast<off_t>(phdr.p_offset), phdr.p_filesz,
                                           ELF_T_NHDR),
                      owner, notes);
    }
    return notes;
}

namespace {

bool is_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Starts with the ELF magic (a program on $PATH may be a script or a shim).
bool is_elf(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char magic[4] = {};
    bool elf = ::read(fd, magic, sizeof(magic)) == 4 && std::memcmp(magic, ELFMAG, SELFMAG) == 0;
    ::close(fd);
    return elf;
}

// Library names from /etc/ld.so.cache (glibc's "glibc-ld.so.cache1.1" format, possibly after
// the old "ld.so-1.7.0" table): pairs of (soname, path), in the cache's order.
std::vector<std::pair<std::string, std::string>> ld_so_cache() {
    std::vector<std::pair<std::string, std::string>> entries;
    int fd = ::open("/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return entries;
    std::string data;
    char chunk[1 << 16];
    for (ssize_t n; (n = ::read(fd, chunk, sizeof(chunk))) > 0;)
        data.append(chunk, static_cast<std::size_t>(n));
    ::close(fd);

    constexpr std::string_view old_magic = "ld.so-1.7.0", new_magic = "glibc-ld.so.cache1.1";
    std::size_t start = 0;
    if (data.starts_with(old_magic) && data.size() >= 16) {
        std::uint32_t count;
        std::memcpy(&count, data.data() + 12, 4);
        start = 16 + static_cast<std::size_t>(count) * 12;
        start = (start + 7) & ~std::size_t{7};
    }
    if (data.size() < start + 48 || data.compare(start, new_magic.size(), new_magic) != 0)
        return entries;
    std::uint32_t count;
    std::memcpy(&count, data.data() + start + 20, 4);
    // Offsets in the new format count from the start of the new header.
    for (std::uint32_t i = 0; i < count; i++) {
        std::size_t entry = start + 48 + static_cast<std::size_t>(i) * 24;
        if (entry + 24 > data.size())
            break;
        std::int32_t flags;
        std::uint32_t key, value;
        std::memcpy(&flags, data.data() + entry, 4);
        std::memcpy(&key, data.data() + entry + 4, 4);
        std::memcpy(&value, data.data() + entry + 8, 4);
        if (start + key >= data.size() || start + value >= data.size())
            continue;
        constexpr std::int32_t type_mask = 0xff00, x86_64 = 0x0300, none = 0;
        if ((flags & type_mask) != x86_64 && (flags & type_mask) != none)
            continue; // a library for another ABI (i386, x32)
        entries.emplace_back(data.c_str() + start + key, data.c_str() + start + value);
    }
    return entries;
}

} // namespace

std::string resolve_binary(const std::string& name) {
    if (name.empty())
        throw Error("empty file name");
    if (name.find('/') != std::string::npos) {
        if (::access(name.c_str(), F_OK) != 0)
            throw_system_error(name, errno);
        return name;
    }
    // "libc" or "libc.so" or "libc.so.6": the exact soname, else the first "<name>.so*"; a
    // program on $PATH (skipping scripts and shims that are not ELF).
    auto cache = ld_so_cache();
    for (const auto& [soname, path] : cache)
        if (soname == name)
            return path;
    for (const auto& [soname, path] : cache)
        if (soname.starts_with(name + ".so") || soname.starts_with(name + "-"))
            return path;
    for (const char* dir : {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64",
                            "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"}) {
        for (const std::string& candidate : {name, name + ".so"})
            if (std::string path = std::string(dir) + "/" + candidate; is_file(path))
                return path;
    }
    if (const char* env = std::getenv("PATH")) {
        std::string_view rest = env;
        while (!rest.empty()) {
            auto colon = rest.find(':');
            std::string dir(rest.substr(0, colon));
            rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
            if (dir.empty())
                continue;
            std::string path = dir + "/" + name;
            if (is_file(path) && ::access(path.c_str(), X_OK) == 0 && is_elf(path))
                return path;
        }
    }
    throw Error(name + ": no such program or library (give a path)");
}

} // namespace coretrace::elf
