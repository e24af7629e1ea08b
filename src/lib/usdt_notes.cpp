// stapsdt note decoding. A prelinked (or otherwise relocated) file moves .stapsdt.base, and every
// address in the notes moves by the same amount: the difference between where the section is
// and where the note says it was.
#include "coretrace/usdt_notes.hpp"

#include "coretrace/error.hpp"

#include <cstring>

namespace coretrace::usdt {
namespace {

constexpr std::uint32_t stapsdt_note_type = 3;

std::uint64_t read_address(std::string_view& desc, bool wide, bool little_endian) {
    std::size_t size = wide ? 8 : 4;
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < size; i++) {
        auto byte = static_cast<unsigned char>(desc[little_endian ? i : size - 1 - i]);
        value |= static_cast<std::uint64_t>(byte) << (8 * i);
    }
    desc.remove_prefix(size);
    return value;
}

std::string read_string(std::string_view& desc, const std::string& path) {
    auto end = desc.find('\0');
    if (end == std::string_view::npos)
        throw Error(path + ": malformed USDT note (unterminated string)");
    std::string text(desc.substr(0, end));
    desc.remove_prefix(end + 1);
    return text;
}

} // namespace

std::vector<std::string> Probe::argument_specs() const {
    std::vector<std::string> specs;
    std::string_view rest = arguments;
    while (!rest.empty()) {
        auto space = rest.find(' ');
        if (space != 0)
            specs.emplace_back(rest.substr(0, space));
        rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    }
    return specs;
}

std::vector<Probe> probes(const elf::File& file) {
    std::vector<Probe> result;
    auto notes = file.notes("stapsdt");
    if (notes.empty())
        return result;
    bool wide = file.is_64bit(), little = file.little_endian();
    auto base_section = file.section(".stapsdt.base");
    for (const auto& note : notes) {
        if (note.type != stapsdt_note_type)
            continue;
        std::string_view desc = note.desc;
        if (desc.size() < (wide ? 24u : 12u))
            throw Error(file.path() + ": malformed USDT note (too short)");
        Probe probe;
        probe.pc = read_address(desc, wide, little);
        probe.base = read_address(desc, wide, little);
        probe.semaphore = read_address(desc, wide, little);
        probe.provider = read_string(desc, file.path());
        probe.name = read_string(desc, file.path());
        probe.arguments = desc.empty() ? std::string() : read_string(desc, file.path());
        if (base_section && probe.base != 0) {
            std::uint64_t shift = base_section->address - probe.base;
            probe.pc += shift;
            if (probe.semaphore != 0)
                probe.semaphore += shift;
        }
        probe.pc_offset = file.file_offset(probe.pc);
        if (probe.semaphore != 0)
            probe.semaphore_offset = file.file_offset(probe.semaphore);
        result.push_back(std::move(probe));
    }
    return result;
}

} // namespace coretrace::usdt
