// Test support: a directory of the test's own, and what file system holds a path.
#pragma once

#include <filesystem>
#include <string>

namespace coretrace::test {

// A directory no other process uses, "coretrace-TAG-PID-N" under `parent` (the temporary
// directory by default; /var/tmp for a disk file system, /dev/shm for tmpfs), removed with
// everything in it at the end.
class ScratchDir {
  public:
    explicit ScratchDir(const std::string& tag, const std::filesystem::path& parent =
                                                    std::filesystem::temp_directory_path());
    ~ScratchDir();
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    // The path of `name` inside it.
    std::string operator/(const std::string& name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
};

// The magic number of the file system holding `path` (statfs(2) f_type), 0 if unknown.
long filesystem_magic(const std::filesystem::path& path);
constexpr long kExt4Magic = 0xEF53, kTmpfsMagic = 0x01021994;

// The type of the file system holding `path`: "ext4" (also ext2/ext3, which the ext4 driver
// serves), "xfs", "btrfs", "tmpfs", or "" for any other.
std::string filesystem_type(const std::filesystem::path& path);

} // namespace coretrace::test
