// Test helpers of the block tools (biolatency, biosnoop, bitesize): a known O_DIRECT workload on
// a file of the root disk, where its blocks are on the disk (FIEMAP), and /proc/diskstats.
// Everything is in an anonymous namespace: each test file that includes this has its own copy.
#pragma once
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <vector>

namespace {

// The disk that holds /var/tmp, by name (its whole disk), or "" when it is not a plain disk.
inline std::string var_tmp_disk() {
    struct stat st {};
    if (::stat("/var/tmp", &st) != 0)
        return "";
    std::ifstream in("/proc/partitions");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        unsigned major = 0, minor = 0;
        unsigned long long blocks = 0;
        std::string name;
        if (f >> major >> minor >> blocks >> name && major == ::major(st.st_dev) &&
            minor == ::minor(st.st_dev)) {
            struct stat part {};
            if (::stat(("/sys/class/block/" + name + "/partition").c_str(), &part) == 0)
                return ""; // a partition: sectors would need its start added
            return name;
        }
    }
    return "";
}

struct DiskStats {
    std::uint64_t reads = 0, read_sectors = 0, writes = 0, write_sectors = 0;
};

inline DiskStats disk_stats(const std::string& disk) {
    std::ifstream in("/proc/diskstats");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        unsigned major = 0, minor = 0;
        std::string name;
        std::uint64_t v[8] = {};
        if (!(f >> major >> minor >> name) || name != disk)
            continue;
        for (auto& x : v)
            f >> x;
        return {v[0], v[2], v[4], v[6]};
    }
    return {};
}

// Requests of `disk` in flight now: reads, writes (/sys/block/DISK/inflight).
inline std::pair<std::uint64_t, std::uint64_t> in_flight(const std::string& disk) {
    std::ifstream in("/sys/block/" + disk + "/inflight");
    std::uint64_t r = 0, w = 0;
    in >> r >> w;
    return {r, w};
}

// A file under /var/tmp whose blocks are written and on disk before the traced workload runs,
// so that the workload's O_DIRECT overwrites and reads need no allocation or metadata I/O.
class DirectFile {
  public:
    static constexpr std::size_t write_size = 16384, writes = 8; // 8 writes of 16 KiB
    static constexpr std::size_t read_size = 8192, reads = 12;   // 12 reads of 8 KiB
    static constexpr std::size_t file_size = 256 * 1024;

    DirectFile() {
        path_ = "/var/tmp/coretrace-block-" + std::to_string(::getpid()) + "-" +
                std::to_string(counter()++);
        int fd = ::open(path_.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
        if (fd < 0)
            throw std::runtime_error("cannot create " + path_ + ": " + std::strerror(errno));
        std::string data(file_size, 'x');
        bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
                  ::fsync(fd) == 0;
        ::close(fd);
        if (!ok)
            throw std::runtime_error("cannot write " + path_);
    }
    ~DirectFile() { ::unlink(path_.c_str()); }
    DirectFile(const DirectFile&) = delete;
    DirectFile& operator=(const DirectFile&) = delete;

    const std::string& path() const { return path_; }

    // The workload, run in the traced child: 8 O_DIRECT writes of 16 KiB at offsets 0, 16K,
    // ..., an fsync, then 12 O_DIRECT reads of 8 KiB from offset 128 KiB on. Exits non-zero on
    // any failure. `comm`, when given, names the process first.
    void run(const char* comm = nullptr) const {
        if (comm)
            ::prctl(PR_SET_NAME, comm);
        int fd = ::open(path_.c_str(), O_RDWR | O_DIRECT);
        void* buffer = nullptr;
        if (fd < 0 || ::posix_memalign(&buffer, 4096, write_size) != 0)
            std::_Exit(3);
        std::memset(buffer, 'y', write_size);
        for (std::size_t i = 0; i < writes; i++)
            if (::pwrite(fd, buffer, write_size, static_cast<off_t>(i * write_size)) !=
                static_cast<ssize_t>(write_size))
                std::_Exit(4);
        if (::fsync(fd) != 0)
            std::_Exit(5);
        for (std::size_t i = 0; i < reads; i++)
            if (::pread(fd, buffer, read_size, static_cast<off_t>(read_offset(i))) !=
                static_cast<ssize_t>(read_size))
                std::_Exit(6);
        ::close(fd);
        std::free(buffer);
    }

    static std::size_t write_offset(std::size_t i) { return i * write_size; }
    static std::size_t read_offset(std::size_t i) { return 128 * 1024 + i * read_size; }

    // The disk sector (512 bytes) where the file's byte `offset` lies (FIEMAP), or -1.
    long long sector_of(std::size_t offset) const {
        int fd = ::open(path_.c_str(), O_RDONLY);
        if (fd < 0)
            return -1;
        std::vector<char> buf(sizeof(fiemap) + 32 * sizeof(fiemap_extent));
        auto* map = reinterpret_cast<fiemap*>(buf.data());
        map->fm_start = 0;
        map->fm_length = ~0ULL;
        map->fm_flags = FIEMAP_FLAG_SYNC;
        map->fm_extent_count = 32;
        long long sector = -1;
        if (::ioctl(fd, FS_IOC_FIEMAP, map) == 0)
            for (unsigned i = 0; i < map->fm_mapped_extents; i++) {
                const auto& e = map->fm_extents[i];
                if (offset >= e.fe_logical && offset < e.fe_logical + e.fe_length)
                    sector = static_cast<long long>((e.fe_physical + offset - e.fe_logical) / 512);
            }
        ::close(fd);
        return sector;
    }

  private:
    static int& counter() {
        static int n = 0;
        return n;
    }
    std::string path_;
};

} // namespace
