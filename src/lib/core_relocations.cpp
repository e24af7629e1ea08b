// Reads a BPF object's .BTF and the CO-RE part of .BTF.ext straight from its ELF bytes (libbpf
// keeps its parsed copy of the relocations private).
#include "coretrace/core_btf.hpp"

#include "coretrace/error.hpp"

#include <bpf/btf.h>
#include <cstring>
#include <elf.h>
#include <linux/bpf.h>
#include <memory>
#include <string_view>

namespace coretrace::btf {
namespace {

template <typename T> T read_at(std::span<const std::byte> bytes, std::size_t offset) {
    if (offset + sizeof(T) > bytes.size())
        throw Error("BPF object is truncated");
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof(T));
    return value;
}

std::span<const std::byte> section(std::span<const std::byte> elf, std::string_view wanted) {
    auto header = read_at<Elf64_Ehdr>(elf, 0);
    if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64)
        throw Error("BPF object is not a 64-bit ELF file");
    auto names = read_at<Elf64_Shdr>(elf, header.e_shoff + header.e_shstrndx * sizeof(Elf64_Shdr));
    for (unsigned i = 0; i < header.e_shnum; i++) {
        auto sh = read_at<Elf64_Shdr>(elf, header.e_shoff + i * sizeof(Elf64_Shdr));
        std::size_t name_at = names.sh_offset + sh.sh_name;
        if (name_at >= elf.size())
            continue;
        const char* name = reinterpret_cast<const char*>(elf.data() + name_at);
        if (wanted == std::string_view(name, strnlen(name, elf.size() - name_at))) {
            if (sh.sh_offset + sh.sh_size > elf.size())
                throw Error("BPF object is truncated");
            return elf.subspan(sh.sh_offset, sh.sh_size);
        }
    }
    return {};
}

// .BTF.ext header (<libbpf's btf.h> layout; the CO-RE fields exist when hdr_len covers them).
struct ExtHeader {
    std::uint16_t magic;
    std::uint8_t version, flags;
    std::uint32_t hdr_len, func_info_off, func_info_len, line_info_off, line_info_len;
    std::uint32_t core_relo_off, core_relo_len;
};

} // namespace

ObjectCoreInfo read_core_info(std::span<const std::byte> elf) {
    ObjectCoreInfo info;
    auto btf_bytes = section(elf, ".BTF");
    if (btf_bytes.empty())
        throw Error("BPF object has no .BTF section");
    info.btf.assign(reinterpret_cast<const std::uint8_t*>(btf_bytes.data()),
                    reinterpret_cast<const std::uint8_t*>(btf_bytes.data()) + btf_bytes.size());

    auto ext = section(elf, ".BTF.ext");
    if (ext.empty())
        return info;
    auto header = read_at<ExtHeader>(ext, 0);
    if (header.magic != 0xeB9F)
        throw Error("BPF object has a malformed .BTF.ext section");
    if (header.hdr_len < sizeof(ExtHeader) || header.core_relo_len == 0)
        return info;

    std::unique_ptr<struct btf, void (*)(struct btf*)> local(
        btf__new(info.btf.data(), static_cast<__u32>(info.btf.size())), btf__free);
    if (!local)
        throw Error("BPF object has malformed BTF");
    std::size_t at = header.hdr_len + header.core_relo_off;
    const std::size_t end = at + header.core_relo_len;
    const auto record_size = read_at<std::uint32_t>(ext, at);
    if (record_size < sizeof(bpf_core_relo))
        throw Error("BPF object has malformed CO-RE relocations");
    at += sizeof(std::uint32_t);
    while (at < end) {
        at += sizeof(std::uint32_t); // section name
        const auto count = read_at<std::uint32_t>(ext, at);
        at += sizeof(std::uint32_t);
        for (std::uint32_t i = 0; i < count; i++, at += record_size) {
            auto relo = read_at<bpf_core_relo>(ext, at);
            const char* access = btf__name_by_offset(local.get(), relo.access_str_off);
            info.relocations.push_back({relo.type_id, access ? access : "", relo.kind});
        }
    }
    return info;
}

} // namespace coretrace::btf
