// Reading a process's BPF objects from fdinfo and asking the kernel whether ids still exist.
#include "bpf_objects.hpp"

#include <bpf/bpf.h>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>

namespace coretrace::test {

std::string describe(const BpfObjects& objects) {
    std::string text;
    for (auto id : objects.progs)
        text += " prog " + std::to_string(id);
    for (auto id : objects.maps)
        text += " map " + std::to_string(id);
    for (auto id : objects.links)
        text += " link " + std::to_string(id);
    return text;
}

BpfObjects held_by(pid_t pid) {
    BpfObjects objects;
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fdinfo", ec)) {
        std::ifstream info(entry.path());
        std::string line;
        while (std::getline(info, line)) {
            auto value = [&] {
                return static_cast<unsigned>(std::stoul(line.substr(line.find(':') + 1)));
            };
            if (line.starts_with("prog_id:"))
                objects.progs.insert(value());
            else if (line.starts_with("map_id:"))
                objects.maps.insert(value());
            else if (line.starts_with("link_id:"))
                objects.links.insert(value());
        }
    }
    return objects;
}

namespace {
template <typename Open> std::set<unsigned> existing(const std::set<unsigned>& ids, Open open) {
    std::set<unsigned> alive;
    for (unsigned id : ids) {
        int fd = open(id);
        if (fd >= 0) {
            alive.insert(id);
            ::close(fd);
        } else if (errno != ENOENT) {
            alive.insert(id); // cannot tell: count it as present
        }
    }
    return alive;
}
} // namespace

BpfObjects still_loaded(const BpfObjects& objects, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        BpfObjects alive{existing(objects.progs, bpf_prog_get_fd_by_id),
                         existing(objects.maps, bpf_map_get_fd_by_id),
                         existing(objects.links, bpf_link_get_fd_by_id)};
        if (alive.empty() || std::chrono::steady_clock::now() >= deadline)
            return alive;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::set<unsigned> programs_named(const std::vector<std::string>& names) {
    std::set<unsigned> ids;
    __u32 id = 0;
    while (bpf_prog_get_next_id(id, &id) == 0) {
        int fd = bpf_prog_get_fd_by_id(id);
        if (fd < 0)
            continue;
        bpf_prog_info info{};
        __u32 len = sizeof(info);
        if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
            for (const auto& name : names)
                if (name.substr(0, 15) == info.name)
                    ids.insert(id);
        ::close(fd);
    }
    return ids;
}

} // namespace coretrace::test
