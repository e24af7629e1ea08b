// Name lookups in raw BTF (the kernel's /sys/kernel/btf/vmlinux) by a single linear walk, without
// building libbpf's full in-memory index of 100k+ types: the cheap path for hook probes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace coretrace::btf {

inline constexpr const char* vmlinux_path = "/sys/kernel/btf/vmlinux";

// Kinds as in <linux/btf.h>.
enum class Kind : std::uint32_t { typedef_ = 8, func = 12 };

// The id of the first type called `name` with kind `kind`, or nullopt. Throws Error if the file
// cannot be read or is not BTF.
std::optional<std::uint32_t> find_type_id(const std::string& path, std::string_view name,
                                          Kind kind);

} // namespace coretrace::btf
