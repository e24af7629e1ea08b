// USDT probes by name: the notes are read here (usdt_notes.hpp) so that a missing probe is our
// error line; libbpf then attaches to each of its places and handles the semaphore.
#include "coretrace/usdt_target.hpp"

#include "coretrace/elf_file.hpp"
#include "coretrace/error.hpp"
#include "coretrace/process_maps.hpp"

#include <cerrno>
#include <fmt/format.h>

namespace coretrace::usdt {

namespace {

std::vector<Probe> probes_named(const std::string& path, const ProbeName& wanted) {
    std::vector<Probe> found;
    for (auto& probe : probes(elf::File(path)))
        if (probe.provider == wanted.provider && probe.name == wanted.name)
            found.push_back(std::move(probe));
    return found;
}

} // namespace

ProbeName parse_probe_name(std::string_view text) {
    auto colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size() ||
        text.find(':', colon + 1) != std::string_view::npos)
        throw Error(fmt::format("'{}': expected a USDT probe as PROVIDER:NAME", text));
    return {std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
}

std::vector<Location> find(const ProbeName& probe, const std::string& binary, pid_t pid) {
    std::vector<Location> locations;
    std::string where;
    if (!binary.empty()) {
        std::string path = elf::resolve_binary(binary);
        if (pid > 0) { // the process must map it, or the probe would never fire
            auto mapped = proc::find_mapped_file(pid, path);
            if (!mapped)
                throw Error(fmt::format("process {} does not map {}", pid, path));
            path = *mapped;
        }
        where = path;
        if (auto found = probes_named(path, probe); !found.empty())
            locations.push_back({path, std::move(found)});
    } else {
        where = fmt::format("the files process {} maps", pid);
        for (const auto& path : proc::mapped_files(pid)) {
            std::vector<Probe> found;
            try {
                found = probes_named(path, probe);
            } catch (const Error&) {
                continue; // not an ELF file (a font, a locale archive): no probes
            }
            if (!found.empty())
                locations.push_back({path, std::move(found)});
        }
    }
    if (locations.empty())
        throw Error(fmt::format("no USDT probe {}:{} in {}", probe.provider, probe.name, where));
    return locations;
}

Link attach(bpf_program* program, const Location& location, const ProbeName& probe, pid_t pid,
            std::uint64_t cookie) {
    bpf_usdt_opts opts{};
    opts.sz = sizeof(opts);
    opts.usdt_cookie = cookie;
    errno = 0;
    Link link(bpf_program__attach_usdt(program, pid > 0 ? pid : -1, location.path.c_str(),
                                       probe.provider.c_str(), probe.name.c_str(), &opts));
    if (!link) {
        int err = errno ? errno : EINVAL;
        throw_system_error(fmt::format("cannot attach to USDT probe {}:{} in {}", probe.provider,
                                       probe.name, location.path),
                           err);
    }
    return link;
}

} // namespace coretrace::usdt
