// Fields of BPF records as text: fixed-size kernel strings (comm, paths, args) and JSON Lines.
#pragma once

#include <cstddef>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

namespace coretrace {

// A NUL-padded char array from the kernel as a string: up to the first NUL, never past the end.
template <std::size_t N> std::string fixed_string(const char (&field)[N]) {
    return std::string(field, strnlen(field, N));
}

// One JSON Lines record to stdout, not flushed (pump_events flushes after each batch). Kernel
// strings are bytes, not always UTF-8: invalid sequences become U+FFFD instead of throwing.
void write_json_record(const nlohmann::json& record);

} // namespace coretrace
