// Hook choice as data: a tool lists, for one event, the programs that can observe it in order of
// preference; the first one the running kernel supports is kept, the others do not load, and -v
// says which was chosen and why the ones before it were passed over.
#pragma once

#include "coretrace/features.hpp"

#include <bpf/libbpf.h>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace coretrace::hooks {

enum class Kind { fentry, fexit, kprobe, kretprobe, tp_btf, raw_tp, tracepoint, other };

struct Hook {
    Kind kind = Kind::other;
    std::string target; // "sched_switch", "syscalls:sys_enter_write", "vfs_read", ...

    // Parses a libbpf section name: "tp_btf/sched_switch", "tp/syscalls/sys_enter_write", ...
    static Hook from_section(std::string_view section);
    std::string describe() const; // "tp_btf/sched_switch"
};

// Answers "does this kernel support this hook?"; tests substitute their own.
class Prober {
  public:
    virtual ~Prober() = default;
    virtual features::Support probe(const Hook& hook) = 0;
};
Prober& kernel_prober();

struct Choice {
    std::size_t index = 0; // into the candidate list
    Hook hook;
    std::string reason;                                    // why it was possible
    std::vector<std::pair<Hook, std::string>> passed_over; // earlier candidates, why not
};

// One event a tool observes and the section names of the programs that can observe it, in order
// of preference: declared once per tool, used both to load it and by `coretrace features`.
struct EventHooks {
    std::string_view event;
    std::span<const std::string_view> sections;
    // The tool runs without this event (it reports less): `coretrace features` says "not traced
    // here" rather than "cannot run" where no candidate works.
    bool optional = false;
    std::vector<Hook> hooks() const;
};

// A program on a kernel function (fentry, fexit, kprobe, kretprobe), not on a tracepoint: how a
// tool whose function hooks replace several tracepoint programs tells which path was chosen.
bool function_hook(const bpf_program* program);

// Picks the first supported hook; throws Error naming `event` and every reason if none is.
Choice choose(std::string_view event, const std::vector<Hook>& candidates, Prober& prober);

// Among the programs of `object` whose section names `need` lists, keeps the first the kernel
// supports, disables autoload of the others and logs the choice (-v). Returns the chosen one.
bpf_program* prefer(bpf_object* object, const EventHooks& need, Prober& prober = kernel_prober());
// Loads none of `need`'s programs: for an optional event the kernel cannot observe.
void skip(bpf_object* object, const EventHooks& need);
// `prefer` for each of a group of events that go together (a system call's entry and exit), all
// or none: true when each has a supported hook. Otherwise rethrows when `required`, else loads
// none of them, logs "<first event>: not traced: <why>" (-v) and returns false.
bool prefer_all(bpf_object* object, std::span<const EventHooks> group, bool required = false);

} // namespace coretrace::hooks
