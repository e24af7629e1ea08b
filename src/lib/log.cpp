// libbpf's print callback and coretrace's -v output. libbpf reports a verifier rejection only
// through this callback, so while a capture is active its text is also kept for the Error.
#include "coretrace/log.hpp"

#include <bpf/libbpf.h>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>

namespace coretrace::log {
namespace {

bool verbose_flag = false;
std::mutex capture_mutex;
std::string* capture_buffer = nullptr;
std::string captured_text; // what capture_buffer points at while a LibbpfCapture lives

int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
    // One call can carry a whole verifier log (tens of KiB): its end says why the load failed,
    // so the text is sized to fit rather than cut.
    va_list copy;
    va_copy(copy, args);
    int n = std::vsnprintf(nullptr, 0, format, copy);
    va_end(copy);
    if (n < 0)
        return 0;
    std::string line(static_cast<std::size_t>(n), '\0');
    std::vsnprintf(line.data(), line.size() + 1, format, args);
    {
        std::lock_guard lock(capture_mutex);
        if (capture_buffer)
            capture_buffer->append(line);
    }
    if (verbose_flag && (level != LIBBPF_DEBUG || std::getenv("CORETRACE_LIBBPF_DEBUG")))
        std::fputs(line.c_str(), stderr); // libbpf prefixes its own messages
    return n;
}

} // namespace

void set_verbose(bool on) {
    verbose_flag = on;
}
bool verbose() {
    return verbose_flag;
}

void install_libbpf_logger() {
    static std::once_flag once;
    std::call_once(once, [] { libbpf_set_print(libbpf_print); });
}

void debug_line(const std::string& line) {
    std::fprintf(stderr, "coretrace: %s\n", line.c_str());
}

LibbpfCapture::LibbpfCapture() {
    std::lock_guard lock(capture_mutex);
    captured_text.clear();
    capture_buffer = &captured_text;
}

LibbpfCapture::~LibbpfCapture() {
    std::lock_guard lock(capture_mutex);
    capture_buffer = nullptr;
}

std::string LibbpfCapture::text() const {
    std::lock_guard lock(capture_mutex);
    return captured_text;
}

std::string LibbpfCapture::verifier_log() const {
    std::string all = text();
    const std::string begin = "-- BEGIN PROG LOAD LOG --\n", end = "-- END PROG LOAD LOG --";
    auto from = all.find(begin);
    if (from == std::string::npos)
        return {};
    from += begin.size();
    auto to = all.find(end, from);
    return all.substr(from, to == std::string::npos ? std::string::npos : to - from);
}

} // namespace coretrace::log
