// The one error type of coretrace: what failed, the errno behind it and, when the kernel's
// verifier rejected a program, its log.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace coretrace {

class Error : public std::runtime_error {
  public:
    explicit Error(const std::string& what, int error_number = 0, std::string verifier_log = {});

    // errno of the failed call (0 when the failure is not a system call's).
    int error_number() const noexcept { return error_number_; }
    // The verifier's log when a program failed to load; empty otherwise.
    const std::string& verifier_log() const noexcept { return verifier_log_; }

  private:
    int error_number_;
    std::string verifier_log_;
};

// Throws Error("<what>: <strerror>") for errno `err` (a positive errno value).
[[noreturn]] void throw_system_error(std::string_view what, int err);

// For libbpf-style returns: a negative value is -errno (or -1 with errno set). Returns `ret`.
int check_libbpf(int ret, std::string_view what);

} // namespace coretrace
