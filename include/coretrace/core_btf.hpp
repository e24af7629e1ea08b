// CO-RE without parsing the whole kernel BTF at every start: the kernel types that one BPF
// object's CO-RE relocations touch, cut out of the running kernel's BTF (only the members it
// reads, at their real offsets), cached per kernel build and handed to libbpf as
// btf_custom_path. libbpf then relocates against a few hundred bytes instead of ~5 MB.
#pragma once

#include <bpf/btf.h>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace coretrace::btf {

// One CO-RE relocation of a BPF object, as the compiler recorded it in .BTF.ext.
struct CoreRelocation {
    std::uint32_t type_id; // root type, in the object's own BTF
    std::string access;    // "0:12:3": array index, then member/array indices
    std::uint32_t kind;    // enum bpf_core_relo_kind
};

// The object's own BTF and its CO-RE relocations, read from its ELF bytes.
struct ObjectCoreInfo {
    std::vector<std::uint8_t> btf; // raw .BTF section
    std::vector<CoreRelocation> relocations;
};
ObjectCoreInfo read_core_info(std::span<const std::byte> elf);

// The minimized BTF (raw bytes) for `object` against `kernel`. Throws Error when a relocation
// kind is not supported or the result does not resolve every relocation exactly as the full
// BTF does (so a wrong minimized BTF is never used).
std::vector<std::uint8_t> minimize(const ObjectCoreInfo& object, const struct btf* kernel);

// Path of the cached minimized BTF for this object on the running kernel (made on first use,
// keyed by the kernel's build id and the object's bytes), or "" when it cannot be had; callers
// then let libbpf use the full kernel BTF. Cache: $CORETRACE_CACHE_DIR or /var/cache/coretrace.
std::string cached_minimized_btf(std::span<const std::byte> elf);

} // namespace coretrace::btf
