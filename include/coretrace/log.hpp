// Diagnostics: -v messages and libbpf's own log, which goes through one callback that is silent
// unless verbose, and is captured while programs load so a verifier rejection can be reported.
#pragma once

#include <fmt/format.h>
#include <string>

namespace coretrace::log {

void set_verbose(bool on);
bool verbose();

// Routes libbpf's print callback through coretrace (idempotent; done by Skeleton::open).
void install_libbpf_logger();

// Prints a -v line to stderr ("coretrace: ..."), only when verbose.
void debug_line(const std::string& line);
template <typename... Args> void debug(fmt::format_string<Args...> format, Args&&... args) {
    if (verbose())
        debug_line(fmt::format(format, std::forward<Args>(args)...));
}

// While alive, libbpf's messages are also collected; text() returns what was collected.
class LibbpfCapture {
  public:
    LibbpfCapture();
    ~LibbpfCapture();
    LibbpfCapture(const LibbpfCapture&) = delete;
    LibbpfCapture& operator=(const LibbpfCapture&) = delete;
    std::string text() const;
    // The verifier's part of the captured text (between libbpf's BEGIN/END markers).
    std::string verifier_log() const;
};

} // namespace coretrace::log
