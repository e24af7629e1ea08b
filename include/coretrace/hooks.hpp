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

// Where a tool's function hooks (libbpf-tools' fentry/kprobes) replace a set of tracepoint
// programs by another (fexit/tcp_v4_connect instead of inet_sock_set_state + connect(2)'s exit),
// the two sets are two paths that must not be mixed. Each event says to which it belongs.
enum class Path {
    both,       // its function hook(s) first, then the tracepoint(s); or tracepoints only
    function,   // loaded only on the function-hook path (the exit of a bracketed function)
    tracepoint, // loaded only on the tracepoint path (connect(2)'s exit)
};

// One event a tool observes and the section names of the programs that can observe it, in order
// of preference: declared once per tool, used both to load it and by `coretrace features`.
struct EventHooks {
    std::string_view event;
    std::span<const std::string_view> sections;
    // The tool runs without this event (it reports less): `coretrace features` says "not traced
    // here" rather than "cannot run" where no candidate works.
    bool optional = false;
    Path path = Path::both; // for tools loaded with prefer_path
    std::vector<Hook> hooks() const;
    // Its candidates but the function hooks: what prefer_path falls back to on the tracepoint
    // path when a later event's function hook works where the first event's did not.
    std::vector<Hook> tracepoint_hooks() const;
};

// A program (or section name) on a kernel function (fentry, fexit, kprobe, kretprobe), not on a
// tracepoint.
bool function_hook(const bpf_program* program);
bool function_hook(std::string_view section);

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

// For a tool with two paths: the first event (a `both` one) decides: the function-hook path if
// its choice is a function hook, else the tracepoint path. The events of the other path are not
// loaded; each of the chosen path gets `prefer` (-v shows every candidate passed over). On the
// function path, a `both` event listing a function hook that can only get its tracepoint throws
// Error (one line) rather than load a mix; on the tracepoint path, one whose function hook works
// takes its tracepoint. An `optional` event with no hook is left out. Returns true for the
// function-hook path.
bool prefer_path(bpf_object* object, std::span<const EventHooks> table);
// The path prefer_path would take here (for `coretrace features`).
bool function_path_here(std::span<const EventHooks> table, Prober& prober = kernel_prober());

} // namespace coretrace::hooks
