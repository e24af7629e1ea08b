// Resolution of "lib:func" and "/path:func" to a file offset, done here rather than by libbpf's
// func_name lookup so that each way it can fail is one clear line of ours.
#include "coretrace/uprobe_target.hpp"

#include "coretrace/elf_file.hpp"
#include "coretrace/error.hpp"
#include "coretrace/process_maps.hpp"
#include "coretrace/system.hpp"

#include <cerrno>
#include <elf.h>
#include <fmt/format.h>
#include <unistd.h>

namespace coretrace::uprobe {

namespace {

// The file `spec.binary` designates: among what `pid` maps, or through the loader's paths.
std::string find_file(const Spec& spec, pid_t pid) {
    if (spec.binary.empty()) {
        if (pid <= 0)
            throw Error(
                fmt::format("':{}': a function of the traced program needs -p PID", spec.function));
        sys::require_process(pid);
        return fmt::format("/proc/{}/exe", pid);
    }
    if (pid <= 0)
        return elf::resolve_binary(spec.binary);
    if (auto file = proc::find_mapped_file(pid, spec.binary))
        return *file;
    if (spec.binary.find('/') != std::string::npos && ::access(spec.binary.c_str(), F_OK) != 0)
        throw_system_error(spec.binary, errno);
    throw Error(fmt::format("process {} does not map {}", pid, spec.binary));
}

} // namespace

Spec parse(std::string_view text) {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        if (text.empty())
            throw Error("empty function name");
        return {{}, std::string(text), false};
    }
    Spec spec{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1)), true};
    if (spec.function.empty())
        throw Error(fmt::format("'{}': expected LIBRARY:FUNCTION or /PATH:FUNCTION", text));
    return spec;
}

std::string describe(const Spec& spec) {
    return spec.user ? spec.binary + ":" + spec.function : spec.function;
}

Target resolve(const Spec& spec, pid_t pid) {
    if (!spec.user)
        throw Error(
            fmt::format("'{}': expected LIBRARY:FUNCTION or /PATH:FUNCTION", spec.function));
    Target target{spec, find_file(spec, pid), 0, 0, pid > 0 ? pid : -1};
    elf::File file(target.path);

    std::optional<elf::Symbol> found;
    for (auto& symbol : file.symbols())
        if (symbol.name == spec.function &&
            (!found || (symbol.is_function() && !found->is_function())))
            found = std::move(symbol);
    if (!found) {
        if (!file.section(".symtab"))
            throw Error(fmt::format("{} is stripped (no .symtab) and has no {} in its .dynsym",
                                    target.path, spec.function));
        throw Error(fmt::format("{}: no function {}", target.path, spec.function));
    }
    if (found->type == STT_GNU_IFUNC)
        throw Error(fmt::format("{} in {} is an ifunc (its implementation is chosen when the "
                                "program loads): trace that implementation instead",
                                spec.function, target.path));
    if (!found->is_function() || found->address == 0)
        throw Error(fmt::format("{} in {} is not a function ({})", spec.function, target.path,
                                found->type_name()));
    target.address = found->address;
    auto offset = file.file_offset(found->address);
    if (!offset)
        throw Error(fmt::format("{} in {}: address {:#x} is in no loadable segment", spec.function,
                                target.path, found->address));
    target.offset = *offset;
    return target;
}

Link attach(bpf_program* program, const Target& target, bool retprobe, std::uint64_t cookie) {
    bpf_uprobe_opts opts{};
    opts.sz = sizeof(opts);
    opts.bpf_cookie = cookie;
    opts.retprobe = retprobe;
    errno = 0;
    Link link(bpf_program__attach_uprobe_opts(program, target.pid, target.path.c_str(),
                                              target.offset, &opts));
    if (!link) {
        int err = errno ? errno : EINVAL;
        throw_system_error(fmt::format("cannot attach a {} to {} ({})",
                                       retprobe ? "uretprobe" : "uprobe", describe(target.spec),
                                       target.path),
                           err);
    }
    return link;
}

} // namespace coretrace::uprobe
