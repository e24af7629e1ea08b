#include "coretrace/inet_address.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <sys/socket.h>

namespace coretrace::inet {

std::string format(int family, const std::uint8_t* bytes) {
    char text[INET6_ADDRSTRLEN] = {};
    if ((family != AF_INET && family != AF_INET6) ||
        !::inet_ntop(family, bytes, text, sizeof(text)))
        return "?";
    return text;
}

int ip_version(int family) {
    return family == AF_INET ? 4 : family == AF_INET6 ? 6 : 0;
}

Address parse_address(std::string_view text) {
    Address address;
    const std::string copy(text);
    if (::inet_pton(AF_INET, copy.c_str(), address.bytes.data()) == 1) {
        address.family = AF_INET;
        return address;
    }
    if (::inet_pton(AF_INET6, copy.c_str(), address.bytes.data()) == 1) {
        address.family = AF_INET6;
        return address;
    }
    throw CLI::ValidationError(fmt::format("not an IPv4 or IPv6 address: '{}'", copy));
}

const CLI::Validator address(
    [](std::string& text) {
        try {
            parse_address(text);
        } catch (const CLI::ValidationError& e) {
            return std::string(e.what());
        }
        return std::string();
    },
    "ADDRESS", "address");

std::vector<std::uint16_t> parse_ports(std::string_view text, std::size_t most) {
    std::vector<std::uint16_t> ports;
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = text.find(',', start);
        const std::string_view item = text.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        unsigned value = 0;
        auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
        if (item.empty() || error != std::errc() || end != item.data() + item.size() || value < 1 ||
            value > 65535)
            throw CLI::ValidationError(
                fmt::format("not a port from 1 to 65535: '{}' in '{}'", item, text));
        ports.push_back(static_cast<std::uint16_t>(value));
        if (comma == std::string_view::npos)
            break;
        start = comma + 1;
    }
    if (ports.size() > most)
        throw CLI::ValidationError(fmt::format("at most {} ports, not {}", most, ports.size()));
    return ports;
}

CLI::Validator port_list(std::size_t most) {
    return CLI::Validator(
        [most](std::string& text) {
            try {
                parse_ports(text, most);
            } catch (const CLI::ValidationError& e) {
                return std::string(e.what());
            }
            return std::string();
        },
        "PORT[,PORT...]", "port list");
}

void store_ports(const std::string& text, const volatile std::uint16_t* slots,
                 const volatile std::uint32_t& length) {
    if (text.empty())
        return;
    const auto ports = parse_ports(text, max_ports);
    for (std::size_t i = 0; i < ports.size(); i++)
        const_cast<std::uint16_t&>(slots[i]) = ports[i];
    const_cast<std::uint32_t&>(length) = static_cast<std::uint32_t>(ports.size());
}

const char* tcp_state_name(int state) {
    static const char* const names[] = {
        "UNKNOWN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
        "CLOSE",   "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV"};
    if (state < 1 || state > 12)
        return names[0];
    return names[state];
}

} // namespace coretrace::inet
