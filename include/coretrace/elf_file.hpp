// An ELF file (executable or shared library) read with libelf: its function and object symbols
// from .symtab and .dynsym, the file offset of a virtual address (what a uprobe attaches at), its
// notes; and where a library name like "libc" lives on this system.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

typedef struct Elf Elf;

namespace coretrace::elf {

struct Symbol {
    std::string name;
    std::uint64_t address = 0; // st_value: a virtual address in the file's layout
    std::uint64_t size = 0;
    unsigned char type = 0;    // STT_FUNC, STT_OBJECT, STT_GNU_IFUNC...
    unsigned char binding = 0; // STB_GLOBAL, STB_LOCAL, STB_WEAK
    bool dynamic = false;      // from .dynsym (else .symtab)

    bool is_function() const;              // STT_FUNC or STT_GNU_IFUNC
    std::string_view type_name() const;    // "func", "object", "ifunc", "notype", ...
    std::string_view binding_name() const; // "global", "local", "weak", ...
};

struct Note {
    std::string owner; // "stapsdt", "GNU"
    std::uint32_t type = 0;
    std::string_view desc; // points into the file's data, valid while the ElfFile lives
};

struct LoadSegment {
    std::uint64_t offset = 0, file_size = 0;    // p_offset, p_filesz
    std::uint64_t address = 0, memory_size = 0; // p_vaddr, p_memsz
};

struct Section {
    std::string name;
    std::uint64_t address = 0, offset = 0, size = 0;
};

class File {
  public:
    // Opens `path`; throws Error: "PATH: No such file or directory", "PATH is not an ELF file".
    explicit File(const std::string& path);
    // An ELF image in memory (the vdso), copied; `name` stands for the path in messages.
    static File from_memory(std::string name, std::string_view image);
    ~File();
    File(File&&) noexcept;
    File& operator=(File&&) noexcept;
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    const std::string& path() const { return path_; }
    bool is_64bit() const;
    bool little_endian() const;
    // ET_EXEC, ET_DYN...
    unsigned type() const;

    // Defined symbols (not SHN_UNDEF, non-empty name) of .symtab then .dynsym; a symbol found in
    // both (same name and address) appears once, as the .symtab one.
    std::vector<Symbol> symbols() const;
    // Defined functions only, each name once.
    std::vector<Symbol> functions() const;
    std::optional<Symbol> find_symbol(std::string_view name) const;

    // The file offset holding virtual address `address` (through the PT_LOAD segments), or
    // nullopt when no loadable segment covers it.
    std::optional<std::uint64_t> file_offset(std::uint64_t address) const;
    // The PT_LOAD segments: where each part of the file is mapped.
    std::vector<LoadSegment> load_segments() const;
    std::optional<Section> section(std::string_view name) const;
    // The bytes of section `name` (empty when missing or without file contents); valid while
    // the File lives.
    std::string_view section_data(std::string_view name) const;
    // The GNU build id (NT_GNU_BUILD_ID) in lower-case hex, or "".
    std::string build_id() const;
    // True when the file has a .symtab (not stripped).
    bool has_symtab() const;
    // Every note in SHT_NOTE sections (or PT_NOTE segments when there are no section headers)
    // whose owner is `owner` (all notes when empty).
    std::vector<Note> notes(std::string_view owner = {}) const;

  private:
    File() = default;
    std::string path_;
    std::string memory_; // the image, for from_memory
    int fd_ = -1;
    Elf* elf_ = nullptr;
};

// A file to read for `name`: a path containing '/' as is; otherwise a library (from
// /etc/ld.so.cache, then the usual library directories: "libc" finds libc.so.6) or a program on
// $PATH. Throws Error when nothing is found.
std::string resolve_binary(const std::string& name);

} // namespace coretrace::elf
