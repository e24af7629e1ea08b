// Test support for the file system tools: a file written to disk and dropped from the page cache
// (that file only, never globally), and a file read through with read(2).
#pragma once

#include <cstddef>
#include <string>

namespace coretrace::test {

// Writes `bytes` of data to `path`, fsyncs it, then drops its pages from the page cache
// (POSIX_FADV_DONTNEED on this file only). Returns false on any failure.
bool write_uncached(const std::string& path, std::size_t bytes);

// Reads all of `path` with read(2) in `chunk`-byte reads; returns the bytes read.
std::size_t read_all(const std::string& path, std::size_t chunk = 1 << 17);

} // namespace coretrace::test
