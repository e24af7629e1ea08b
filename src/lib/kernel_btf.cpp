// A single pass over raw BTF records: each type is a 12-byte header plus a kind-dependent
// trailer, so finding one name needs no index of the other 100k+ types.
#include "coretrace/kernel_btf.hpp"

#include "coretrace/error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace coretrace::btf {
namespace {

struct Header {
    std::uint16_t magic;
    std::uint8_t version, flags;
    std::uint32_t hdr_len, type_off, type_len, str_off, str_len;
};
struct TypeRecord {
    std::uint32_t name_off, info, size_or_type;
};

// Bytes that follow the 12-byte record for each BTF kind (<linux/btf.h>).
std::size_t trailer_size(std::uint32_t kind, std::uint32_t vlen) {
    switch (kind) {
    case 1:  // INT
    case 14: // VAR
    case 17: // DECL_TAG
        return 4;
    case 3: // ARRAY
        return 12;
    case 4:  // STRUCT
    case 5:  // UNION
    case 15: // DATASEC
    case 19: // ENUM64
        return 12 * vlen;
    case 6:  // ENUM
    case 13: // FUNC_PROTO
        return 8 * vlen;
    default:
        return 0;
    }
}

std::vector<char> read_all(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw_system_error("reading BTF " + path, errno);
    std::vector<char> data;
    struct stat st {};
    if (fstat(fd, &st) == 0 && st.st_size > 0)
        data.reserve(static_cast<std::size_t>(st.st_size));
    char chunk[1 << 16];
    for (ssize_t n; (n = ::read(fd, chunk, sizeof(chunk))) != 0;) {
        if (n < 0) {
            int err = errno;
            ::close(fd);
            throw_system_error("reading BTF " + path, err);
        }
        data.insert(data.end(), chunk, chunk + n);
    }
    ::close(fd);
    return data;
}

} // namespace

std::optional<std::uint32_t> find_type_id(const std::string& path, std::string_view name,
                                          Kind wanted) {
    std::vector<char> data = read_all(path);
    Header header;
    if (data.size() < sizeof(header))
        throw Error(path + " is not BTF (too short)");
    std::memcpy(&header, data.data(), sizeof(header));
    if (header.magic != 0xeB9F)
        throw Error(path + " is not BTF (bad magic)");
    std::size_t types = header.hdr_len + header.type_off;
    std::size_t strings = header.hdr_len + header.str_off;
    if (types + header.type_len > data.size() || strings + header.str_len > data.size())
        throw Error(path + " is not BTF (truncated)");

    std::size_t pos = types, end = types + header.type_len;
    for (std::uint32_t id = 1; pos + sizeof(TypeRecord) <= end; id++) {
        TypeRecord record;
        std::memcpy(&record, data.data() + pos, sizeof(record));
        std::uint32_t kind = (record.info >> 24) & 0x1f, vlen = record.info & 0xffff;
        if (kind == static_cast<std::uint32_t>(wanted) && record.name_off < header.str_len) {
            const char* type_name = data.data() + strings + record.name_off;
            if (name ==
                std::string_view(type_name, strnlen(type_name, header.str_len - record.name_off)))
                return id;
        }
        pos += sizeof(record) + trailer_size(kind, vlen);
    }
    return std::nullopt;
}

} // namespace coretrace::btf
