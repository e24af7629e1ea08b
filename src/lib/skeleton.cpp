// The non-template half of Skeleton: loading with the verifier log captured, attaching program
// by program so a failure names its program, open failures; and the programs' recursion misses.
#include "coretrace/skeleton.hpp"

#include <bpf/bpf.h>
#include <cstring>
#include <fmt/format.h>
#include <regex>

namespace coretrace {

std::uint64_t recursion_misses(bpf_object* object) {
    std::uint64_t misses = 0;
    bpf_program* program;
    bpf_object__for_each_program(program, object) {
        const int fd = bpf_program__fd(program);
        bpf_prog_info info{};
        __u32 length = sizeof(info);
        if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &length) == 0)
            misses += info.recursion_misses;
    }
    return misses;
}

namespace detail {

void check_opened(const void* skeleton) {
    if (!skeleton)
        throw_system_error("opening the BPF object failed", errno ? errno : EINVAL);
}

void load_object(bpf_object* object, int (*load)(void*), void* skeleton) {
    log::LibbpfCapture capture;
    int err = load(skeleton);
    if (err == 0)
        return;
    err = err == -1 ? errno : -err;
    std::string text = capture.text();
    std::smatch match;
    std::string which = bpf_object__name(object);
    if (std::regex_search(text, match, std::regex("prog '([^']+)': failed to load")))
        which = "program " + match[1].str();
    std::string hint;
    if (err == EPERM || err == EACCES)
        hint = capture.verifier_log().empty()
                   ? " (not privileged enough, or this kernel refuses the program type; -v shows"
                     " libbpf's log)"
                   : " (rejected by the verifier; -v shows its log)";
    throw Error(fmt::format("loading {} failed: {}{}", which, std::strerror(err), hint), err,
                capture.verifier_log());
}

void attach_skeleton(bpf_object_skeleton* skeleton) {
    log::LibbpfCapture capture;
    for (int i = 0; i < skeleton->prog_cnt; i++) {
        bpf_program* prog = *skeleton->progs[i].prog;
        bpf_link** link = skeleton->progs[i].link;
        if (!bpf_program__autoload(prog) || !bpf_program__autoattach(prog) || *link)
            continue;
        errno = 0;
        bpf_link* attached = bpf_program__attach(prog);
        if (!attached) {
            int err = errno ? errno : EINVAL;
            throw Error(fmt::format("attaching program {} ({}) failed: {}", bpf_program__name(prog),
                                    bpf_program__section_name(prog), std::strerror(err)),
                        err);
        }
        *link = attached;
    }
}

} // namespace detail
} // namespace coretrace
