// Writing files past the page cache and reading them back, for the file system tools' tests.
#include "file_io.hpp"

#include <algorithm>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

namespace coretrace::test {

bool write_uncached(const std::string& path, std::size_t bytes) {
    int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    std::vector<char> block(1 << 16, 'x');
    bool ok = true;
    for (std::size_t done = 0; ok && done < bytes;) {
        std::size_t n = std::min(block.size(), bytes - done);
        ok = ::write(fd, block.data(), n) == static_cast<ssize_t>(n);
        done += n;
    }
    ok = ok && ::fsync(fd) == 0 && ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
    ::close(fd);
    return ok;
}

std::size_t read_all(const std::string& path, std::size_t chunk) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    std::vector<char> buffer(chunk);
    std::size_t total = 0;
    for (ssize_t n; (n = ::read(fd, buffer.data(), buffer.size())) > 0;)
        total += static_cast<std::size_t>(n);
    ::close(fd);
    return total;
}

} // namespace coretrace::test
