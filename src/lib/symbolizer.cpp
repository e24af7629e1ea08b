// Stack addresses to frames (see symbolizer.hpp). A process is a sorted list of its executable
// mappings, each pointing at the symbols of its file; a file's symbols are shared by every
// process that maps it (keyed by device and inode, which also tells two files of one path apart).
#include "coretrace/symbolizer.hpp"

#include "coretrace/elf_file.hpp"
#include "coretrace/kernel_symbols.hpp"
#include "coretrace/log.hpp"
#include "coretrace/object_symbols.hpp"

#include <algorithm>
#include <cstdio>
#include <fmt/format.h>
#include <map>
#include <string_view>
#include <sys/auxv.h>
#include <unordered_map>

namespace coretrace::symbols {
namespace {

struct Mapping {
    std::uint64_t start = 0, end = 0, offset = 0;
    std::shared_ptr<const ObjectSymbols> object; // null: nothing to read (anonymous, unreadable)
    std::string module;
};

// One line of /proc/PID/maps: "start-end perms offset dev inode   path".
struct MapsLine {
    std::uint64_t start = 0, end = 0, offset = 0, inode = 0;
    std::string perms, dev, path;
};

bool parse_maps_line(const std::string& line, MapsLine& out) {
    char perms[8] = {}, dev[16] = {};
    unsigned long long start = 0, end = 0, offset = 0, inode = 0;
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %15s %llu %n", &start, &end, perms, &offset,
                    dev, &inode, &path_at) < 6)
        return false;
    out = {start, end, offset, inode, perms, dev, {}};
    if (path_at > 0 && static_cast<std::size_t>(path_at) <= line.size())
        out.path = line.substr(static_cast<std::size_t>(path_at));
    while (!out.path.empty() && out.path.back() == '\n')
        out.path.pop_back();
    return true;
}

std::vector<MapsLine> read_maps(pid_t pid) {
    std::vector<MapsLine> lines;
    std::FILE* file = std::fopen(fmt::format("/proc/{}/maps", pid).c_str(), "re");
    if (!file)
        return lines;
    char* buffer = nullptr;
    std::size_t capacity = 0;
    while (::getline(&buffer, &capacity, file) > 0) {
        MapsLine line;
        if (parse_maps_line(buffer, line))
            lines.push_back(std::move(line));
    }
    std::free(buffer);
    std::fclose(file);
    return lines;
}

constexpr std::string_view deleted_suffix = " (deleted)";

// Our own vdso image: every process of this kernel and ABI maps the same one.
std::shared_ptr<const ObjectSymbols> read_vdso() {
    const auto base = getauxval(AT_SYSINFO_EHDR);
    if (!base)
        return nullptr;
    for (const auto& line : read_maps(::getpid())) {
        if (line.path != "[vdso]" || line.start != base)
            continue;
        try {
            const std::string_view image(reinterpret_cast<const char*>(line.start),
                                         line.end - line.start);
            return std::make_shared<const ObjectSymbols>(elf::File::from_memory("[vdso]", image),
                                                         "[vdso]");
        } catch (const std::exception& e) {
            log::debug("vdso not read: {}", e.what());
        }
    }
    return nullptr;
}

} // namespace

std::string Frame::name() const {
    return known() ? function : "[unknown]";
}

std::string Frame::name_with_offset() const {
    return known() ? fmt::format("{}+0x{:x}", function, offset) : fmt::format("0x{:x}", address);
}

struct Symbolizer::State {
    std::unique_ptr<KernelSymbols> kernel;
    std::map<pid_t, std::vector<Mapping>> processes;
    std::unordered_map<std::string, std::shared_ptr<const ObjectSymbols>> objects;
    std::shared_ptr<const ObjectSymbols> vdso;
    bool vdso_read = false;

    std::shared_ptr<const ObjectSymbols> object_for(pid_t pid, const MapsLine& line,
                                                    const std::string& path) {
        const std::string key = fmt::format("{} {} {}", line.dev, line.inode, path);
        if (auto it = objects.find(key); it != objects.end())
            return it->second;
        // map_files opens exactly the mapped file, even deleted, a memfd, or in another mount
        // namespace; the path itself is the fallback where map_files is not allowed.
        const std::string root = fmt::format("/proc/{}/root", pid);
        std::shared_ptr<const ObjectSymbols> object;
        for (const std::string& candidate :
             {fmt::format("/proc/{}/map_files/{:x}-{:x}", pid, line.start, line.end),
              root + path}) {
            try {
                object = std::make_shared<const ObjectSymbols>(elf::File(candidate), path, root);
                break;
            } catch (const std::exception& e) {
                log::debug("{} of process {}: {}", path, pid, e.what());
            }
        }
        if (object) // a failure (the process just exited, say) may succeed for another process
            objects.emplace(key, object);
        return object;
    }

    const std::vector<Mapping>* process(pid_t pid) {
        if (auto it = processes.find(pid); it != processes.end())
            return &it->second;
        const auto lines = read_maps(pid);
        if (lines.empty())
            return nullptr;
        std::vector<Mapping> mappings;
        for (const auto& line : lines) {
            if (line.perms.size() < 3 || line.perms[2] != 'x')
                continue;
            Mapping mapping{line.start, line.end, line.offset, nullptr, {}};
            if (line.path == "[vdso]") {
                if (!vdso_read) {
                    vdso = read_vdso();
                    vdso_read = true;
                }
                mapping.object = vdso;
                mapping.module = "[vdso]";
            } else if (line.path.empty()) {
                mapping.module = "[anon]";
            } else if (line.path.front() == '[') {
                mapping.module = line.path; // [vsyscall], ...
            } else {
                std::string path = line.path;
                const bool deleted = path.ends_with(deleted_suffix);
                if (deleted)
                    path.resize(path.size() - deleted_suffix.size());
                mapping.object = object_for(pid, line, path);
                // "/memfd:NAME (deleted)": the name a memfd_create caller gave, not a path.
                mapping.module = path.starts_with("/memfd:") ? path.substr(1) : path;
                if (deleted)
                    mapping.module += deleted_suffix;
            }
            mappings.push_back(std::move(mapping));
        }
        return &processes.emplace(pid, std::move(mappings)).first->second;
    }
};

Symbolizer::Symbolizer() : state_(std::make_unique<State>()) {}
Symbolizer::~Symbolizer() = default;

const KernelSymbols& Symbolizer::kernel_symbols() {
    if (!state_->kernel)
        state_->kernel = std::make_unique<KernelSymbols>();
    return *state_->kernel;
}

bool Symbolizer::kernel_visible() {
    return kernel_symbols().visible();
}

Frame Symbolizer::kernel(std::uint64_t address) {
    Frame frame{address, {}, 0, {}};
    stats_.kernel_frames++;
    if (const KernelSymbol* symbol = kernel_symbols().find(address)) {
        frame.function = symbol->name;
        frame.offset = address - symbol->address;
        frame.module = symbol->module;
    } else {
        stats_.kernel_unknown++;
    }
    return frame;
}

bool Symbolizer::remember(pid_t pid) {
    return state_->process(pid) != nullptr;
}

void Symbolizer::forget(pid_t pid) {
    state_->processes.erase(pid);
}

Frame Symbolizer::user(pid_t pid, std::uint64_t address) {
    Frame frame{address, {}, 0, {}};
    stats_.user_frames++;
    const auto* mappings = state_->process(pid);
    if (mappings) {
        auto after = std::upper_bound(
            mappings->begin(), mappings->end(), address,
            [](std::uint64_t value, const Mapping& mapping) { return value < mapping.start; });
        if (after != mappings->begin() && address < std::prev(after)->end) {
            const Mapping& mapping = *std::prev(after);
            frame.module = mapping.module;
            if (mapping.object) {
                const auto in_file =
                    mapping.object->address_at_offset(address - mapping.start + mapping.offset);
                if (const FunctionSymbol* symbol =
                        in_file ? mapping.object->find(*in_file) : nullptr) {
                    frame.function = symbol->name;
                    frame.offset = *in_file - symbol->address;
                }
            }
        }
    }
    if (!frame.known())
        stats_.user_unknown++;
    return frame;
}

namespace {
// Every frame but the innermost is a return address: the call is the instruction before it,
// which is what belongs to the caller (a call to a noreturn function may be its last one).
template <typename Resolve>
std::vector<Frame> resolve_stack(const std::vector<std::uint64_t>& addresses, Resolve resolve) {
    std::vector<Frame> frames;
    frames.reserve(addresses.size());
    for (std::size_t i = 0; i < addresses.size(); i++) {
        const std::uint64_t lookup = i == 0 || addresses[i] == 0 ? addresses[i] : addresses[i] - 1;
        Frame frame = resolve(lookup);
        if (frame.known() && lookup != addresses[i])
            frame.offset++;
        frame.address = addresses[i];
        frames.push_back(std::move(frame));
    }
    return frames;
}
} // namespace

std::vector<Frame> Symbolizer::kernel_stack(const std::vector<std::uint64_t>& addresses) {
    return resolve_stack(addresses, [this](std::uint64_t a) { return kernel(a); });
}

std::vector<Frame> Symbolizer::user_stack(pid_t pid, const std::vector<std::uint64_t>& addresses) {
    return resolve_stack(addresses, [this, pid](std::uint64_t a) { return user(pid, a); });
}

} // namespace coretrace::symbols
