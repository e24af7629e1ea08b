// The on-disk cache of minimized BTF: one file per (kernel build, BPF object), made on first use.
// The key is the kernel's GNU build id (from /sys/kernel/notes), so a new kernel never sees a
// file made for another. A wrong BTF would make programs misread kernel memory, so files and
// their directory are used only when they are what they seem: not symlinks, owned by root or
// by the caller, writable by nobody else; files are created exclusively and renamed in place.
#include "coretrace/core_btf.hpp"

#include "coretrace/error.hpp"
#include "coretrace/features.hpp"
#include "coretrace/log.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

namespace coretrace::btf {
namespace {

// The running kernel's build id, hex, or "" if the kernel does not expose it.
std::string kernel_build_id() {
    std::ifstream in("/sys/kernel/notes", std::ios::binary);
    std::string notes((std::istreambuf_iterator<char>(in)), {});
    for (std::size_t at = 0; at + 12 <= notes.size();) {
        std::uint32_t name_size, desc_size, type;
        std::memcpy(&name_size, notes.data() + at, 4);
        std::memcpy(&desc_size, notes.data() + at + 4, 4);
        std::memcpy(&type, notes.data() + at + 8, 4);
        std::size_t name_at = at + 12, desc_at = name_at + ((name_size + 3) & ~3u);
        if (desc_at + desc_size > notes.size())
            break;
        constexpr std::uint32_t gnu_build_id = 3;
        if (type == gnu_build_id && name_size == 4 &&
            notes.compare(name_at, 4, std::string("GNU\0", 4)) == 0) {
            std::string hex;
            for (std::size_t i = 0; i < desc_size; i++)
                hex += fmt::format("{:02x}", static_cast<unsigned char>(notes[desc_at + i]));
            return hex;
        }
        at = desc_at + ((desc_size + 3) & ~3u);
    }
    return {};
}

std::uint64_t fnv1a(std::span<const std::byte> bytes) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (auto b : bytes)
        hash = (hash ^ static_cast<std::uint8_t>(b)) * 0x100000001b3ULL;
    return hash;
}

// Owned by root or by us, writable by no one else, and (lstat) not a symlink.
bool trustworthy(const std::string& path, bool directory) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 ||
        (directory ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)))
        return false;
    return (st.st_uid == 0 || st.st_uid == ::geteuid()) &&
           (st.st_mode & (S_IWGRP | S_IWOTH)) == 0 && (directory || st.st_size > 0);
}

std::string cache_dir() {
    const char* dir = std::getenv("CORETRACE_CACHE_DIR");
    return dir && *dir ? dir : "/var/cache/coretrace";
}

// Creates the directories of `path` that are missing (0755: readable, so that users with
// CAP_BPF can use what root made) and checks the last one can be trusted.
void make_cache_dirs(const std::string& path) {
    for (std::size_t slash = 1; slash != std::string::npos;) {
        slash = path.find('/', slash + 1);
        std::string prefix = path.substr(0, slash);
        if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
            throw_system_error("creating " + prefix, errno);
    }
    if (!trustworthy(path, true))
        throw Error(path + " is a symlink, or owned or writable by someone else");
}

void write_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes) {
    std::string temporary = fmt::format("{}.{}.tmp", path, ::getpid());
    ::unlink(temporary.c_str()); // a leftover of a crashed run with our pid
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        throw_system_error("creating " + temporary, errno);
    bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
    ok = ::fsync(fd) == 0 && ok;
    ::close(fd);
    if (!ok || ::rename(temporary.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(temporary.c_str());
        throw_system_error("writing " + path, err);
    }
}

} // namespace

std::string cached_minimized_btf(std::span<const std::byte> elf) {
    try {
        ObjectCoreInfo info = read_core_info(elf);
        if (info.relocations.empty())
            return {}; // nothing to relocate: libbpf will not read the kernel's BTF at all
        if (features::disabled_by_user("btf_cache"))
            throw Error("btf_cache disabled by CORETRACE_DISABLE");
        std::string build_id = kernel_build_id();
        if (build_id.empty())
            throw Error("no kernel build id in /sys/kernel/notes to key a cache by");
        std::string dir = fmt::format("{}/btf/{}", cache_dir(), build_id);
        std::string path = fmt::format("{}/{:016x}.btf", dir, fnv1a(elf));
        struct stat st {};
        if (::lstat(dir.c_str(), &st) == 0 && !trustworthy(dir, true))
            throw Error(dir + " is a symlink, or owned or writable by someone else");
        if (trustworthy(path, false)) {
            log::debug("CO-RE against minimized kernel BTF {}", path);
            return path;
        }
        std::unique_ptr<struct btf, void (*)(struct btf*)> kernel(btf__load_vmlinux_btf(),
                                                                  btf__free);
        if (!kernel)
            throw_system_error("loading the kernel's BTF", errno ? errno : ENOENT);
        auto minimized = minimize(info, kernel.get());
        make_cache_dirs(dir);
        write_atomically(path, minimized);
        log::debug("made minimized kernel BTF {} ({} bytes, {} CO-RE relocations)", path,
                   minimized.size(), info.relocations.size());
        return path;
    } catch (const std::exception& e) {
        log::debug("CO-RE against the full kernel BTF (no minimized copy: {})", e.what());
        return {};
    }
}

} // namespace coretrace::btf
