// What the TCP/IP tools share on the user side: IPv4/IPv6 addresses as text (inet_ntop's form),
// TCP state names, and the parsing of their filters: -P/-L/-D port lists ("80,443") and -a
// addresses. Goes with bpf/include/coretrace/sock.bpf.h, whose layouts it reads (ports in host
// order, an IPv4 address in the first 4 bytes of 16).
#pragma once

#include <CLI/CLI.hpp>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace coretrace::inet {

// An address of either family, as sock.bpf.h stores it.
struct Address {
    int family = 0; // AF_INET or AF_INET6
    std::array<std::uint8_t, 16> bytes{};
};

// The address as inet_ntop writes it ("127.0.0.1", "::1"); "?" for an unknown family.
std::string format(int family, const std::uint8_t* bytes);
inline std::string format(const Address& address) {
    return format(address.family, address.bytes.data());
}
// 4 or 6 (libbpf-tools' IP column); 0 for an unknown family.
int ip_version(int family);

// Parses an IPv4 or IPv6 address; throws CLI::ValidationError on anything else.
Address parse_address(std::string_view text);
// Validator for an option holding one address.
extern const CLI::Validator address;

// Most ports a port list holds: CT_MAX_PORTS in sock.bpf.h.
inline constexpr std::size_t max_ports = 64;

// Parses a comma-separated list of ports from 1 to 65535 ("80,443"), at most `most` of them;
// throws CLI::ValidationError naming the bad entry.
std::vector<std::uint16_t> parse_ports(std::string_view text, std::size_t most);
// Validator for such a list (at most `most` ports).
CLI::Validator port_list(std::size_t most);

// Writes `text` parsed as a port list (nothing when empty) into a BPF .rodata list: `slots`
// (max_ports of them, as declared with sock.bpf.h) and its `length`, before load.
void store_ports(const std::string& text, const volatile std::uint16_t* slots,
                 const volatile std::uint32_t& length);

// libbpf-tools' names of the TCP states (include/net/tcp_states.h): "ESTABLISHED", ...;
// "UNKNOWN" outside 1..12.
const char* tcp_state_name(int state);

} // namespace coretrace::inet
