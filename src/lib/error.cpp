// Error construction, and the libbpf return-code convention turned into exceptions.
#include "coretrace/error.hpp"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace coretrace {

Error::Error(const std::string& what, int error_number, std::string verifier_log)
    : std::runtime_error(what), error_number_(error_number),
      verifier_log_(std::move(verifier_log)) {}

void throw_system_error(std::string_view what, int err) {
    throw Error(fmt::format("{}: {}", what, std::strerror(err)), err);
}

int check_libbpf(int ret, std::string_view what) {
    if (ret < 0)
        throw_system_error(what, ret == -1 && errno ? errno : -ret);
    return ret;
}

} // namespace coretrace
