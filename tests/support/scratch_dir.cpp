// A directory of the test's own, and the file system under a path.
#include "scratch_dir.hpp"

#include <atomic>
#include <sys/vfs.h>
#include <unistd.h>

namespace coretrace::test {

ScratchDir::ScratchDir(const std::string& tag, const std::filesystem::path& parent) {
    static std::atomic<int> serial{0};
    path_ = parent / ("coretrace-" + tag + "-" + std::to_string(::getpid()) + "-" +
                      std::to_string(serial++));
    std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

long filesystem_magic(const std::filesystem::path& path) {
    struct statfs fs {};
    return ::statfs(path.c_str(), &fs) == 0 ? static_cast<long>(fs.f_type) : 0;
}

std::string filesystem_type(const std::filesystem::path& path) {
    switch (filesystem_magic(path)) {
    case kExt4Magic:
        return "ext4";
    case 0x58465342:
        return "xfs";
    case 0x9123683E:
        return "btrfs";
    case kTmpfsMagic:
        return "tmpfs";
    }
    return "";
}

} // namespace coretrace::test
