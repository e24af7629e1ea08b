// Block device names and request operation/flag names (see block_devices.hpp).
#include "coretrace/block_devices.hpp"

#include "coretrace/error.hpp"

#include <cctype>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace coretrace::block {

// dev_t (the kernel's MKDEV form) -> name, for every disk and partition in /proc/partitions.
std::map<std::uint32_t, std::string> read_partitions() {
    std::map<std::uint32_t, std::string> names;
    std::ifstream in("/proc/partitions");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        unsigned major = 0, minor = 0;
        unsigned long long blocks = 0;
        std::string name;
        if (fields >> major >> minor >> blocks >> name)
            names[BLOCK_MKDEV(major, minor)] = name;
    }
    return names;
}

std::uint32_t disk_dev(const std::string& name) {
    for (const auto& [dev, known] : read_partitions()) {
        if (known != name)
            continue;
        struct stat st {};
        if (::stat(("/sys/class/block/" + name + "/partition").c_str(), &st) == 0)
            throw Error("disk " + name +
                        " is a partition: block requests are counted per whole disk");
        return dev;
    }
    throw Error("no disk named '" + name + "' in /proc/partitions");
}

DiskNames::DiskNames() : names_(read_partitions()) {}

std::string DiskNames::operator()(std::uint32_t dev) {
    auto it = names_.find(dev);
    if (it == names_.end()) { // a disk that appeared since start-up
        names_ = read_partitions();
        it = names_.find(dev);
    }
    return it == names_.end() ? "Unknown" : it->second;
}

const char* op_name(std::uint32_t flags) {
    switch (flags & BLOCK_OP_MASK) {
    case BLOCK_OP_READ:
        return "Read";
    case BLOCK_OP_WRITE:
        return "Write";
    case BLOCK_OP_FLUSH:
        return "Flush";
    case BLOCK_OP_DISCARD:
        return "Discard";
    case BLOCK_OP_SECURE_ERASE:
        return "SecureErase";
    case BLOCK_OP_ZONE_APPEND:
        return "ZoneAppend";
    case BLOCK_OP_WRITE_ZEROES:
        return "WriteZeroes";
    }
    return "Unknown";
}

// libbpf-tools biolatency -F's text: the flags, each followed by '-', then the operation
std::string flags_text(std::uint32_t flags) {
    static constexpr std::pair<std::uint32_t, const char*> names[] = {
        {BLOCK_F_NOWAIT, "NoWait-"},    {BLOCK_F_BACKGROUND, "Background-"},
        {BLOCK_F_RAHEAD, "ReadAhead-"}, {BLOCK_F_PREFLUSH, "PreFlush-"},
        {BLOCK_F_FUA, "FUA-"},          {BLOCK_F_INTEGRITY, "Integrity-"},
        {BLOCK_F_IDLE, "Idle-"},        {BLOCK_F_NOMERGE, "NoMerge-"},
        {BLOCK_F_PRIO, "Priority-"},    {BLOCK_F_META, "Metadata-"},
        {BLOCK_F_SYNC, "Sync-"},
    };
    std::string text;
    for (const auto& [bit, name] : names)
        if (flags & bit)
            text += name;
    return text + op_name(flags);
}

// The RWBS letters biosnoop prints: F (preflush), the operation (R, W, F, D, DE, N), then F
std::string rwbs(std::uint32_t flags) {
    std::string text;
    if (flags & BLOCK_F_PREFLUSH)
        text += 'F';
    switch (flags & BLOCK_OP_MASK) {
    case BLOCK_OP_WRITE:
        text += 'W';
        break;
    case BLOCK_OP_DISCARD:
        text += 'D';
        break;
    case BLOCK_OP_SECURE_ERASE:
        text += "DE";
        break;
    case BLOCK_OP_FLUSH:
        text += 'F';
        break;
    case BLOCK_OP_READ:
        text += 'R';
        break;
    default:
        text += 'N';
    }
    if (flags & BLOCK_F_FUA)
        text += 'F';
    if (flags & BLOCK_F_RAHEAD)
        text += 'A';
    if (flags & BLOCK_F_SYNC)
        text += 'S';
    if (flags & BLOCK_F_META)
        text += 'M';
    return text;
}

std::string direction(std::uint32_t flags) {
    std::string name = op_name(flags);
    for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return name;
}

} // namespace coretrace::block
