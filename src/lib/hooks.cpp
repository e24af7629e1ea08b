// Hook choice: parse section names into hooks, probe them in order, keep the first that works.
#include "coretrace/hooks.hpp"

#include "coretrace/error.hpp"
#include "coretrace/log.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <map>

namespace coretrace::hooks {
namespace {

struct Prefix {
    std::string_view section;
    Kind kind;
};
constexpr Prefix prefixes[] = {
    {"fentry/", Kind::fentry},         {"fexit/", Kind::fexit},   {"kprobe/", Kind::kprobe},
    {"kretprobe/", Kind::kretprobe},   {"tp_btf/", Kind::tp_btf}, {"raw_tp/", Kind::raw_tp},
    {"raw_tracepoint/", Kind::raw_tp}, {"tp/", Kind::tracepoint}, {"tracepoint/", Kind::tracepoint},
};

std::string_view kind_name(Kind kind) {
    switch (kind) {
    case Kind::fentry:
        return "fentry";
    case Kind::fexit:
        return "fexit";
    case Kind::kprobe:
        return "kprobe";
    case Kind::kretprobe:
        return "kretprobe";
    case Kind::tp_btf:
        return "tp_btf";
    case Kind::raw_tp:
        return "raw_tp";
    case Kind::tracepoint:
        return "tp";
    case Kind::other:
        break;
    }
    return "other";
}

class KernelProber final : public Prober {
  public:
    features::Support probe(const Hook& hook) override {
        // Several programs of one tool often share a hook kind: probe each (kind, target) once.
        auto key = hook.describe();
        if (auto it = cache_.find(key); it != cache_.end())
            return it->second;
        return cache_[key] = probe_uncached(hook);
    }

  private:
    static features::Support probe_uncached(const Hook& hook) {
        switch (hook.kind) {
        case Kind::fentry:
        case Kind::fexit:
            return features::fentry(hook.target, hook.kind == Kind::fexit);
        case Kind::kprobe:
        case Kind::kretprobe:
            return features::kprobe(hook.target, hook.kind == Kind::kretprobe);
        case Kind::tp_btf:
            return features::tp_btf(hook.target);
        case Kind::raw_tp:
            return features::raw_tracepoint(hook.target);
        case Kind::tracepoint: {
            auto colon = hook.target.find(':');
            return features::tracepoint(hook.target.substr(0, colon),
                                        hook.target.substr(colon + 1));
        }
        case Kind::other:
            break;
        }
        return {true, "not probed (no probe for this program type)"};
    }
    std::map<std::string, features::Support> cache_;
};

} // namespace

Hook Hook::from_section(std::string_view section) {
    for (const auto& prefix : prefixes) {
        if (!section.starts_with(prefix.section))
            continue;
        std::string target(section.substr(prefix.section.size()));
        if (prefix.kind == Kind::tracepoint)
            if (auto slash = target.find('/'); slash != std::string::npos)
                target[slash] = ':';
        return {prefix.kind, target};
    }
    return {Kind::other, std::string(section)};
}

std::string Hook::describe() const {
    if (kind == Kind::other)
        return target;
    std::string shown = target;
    if (kind == Kind::tracepoint)
        if (auto colon = shown.find(':'); colon != std::string::npos)
            shown[colon] = '/';
    return fmt::format("{}/{}", kind_name(kind), shown);
}

Prober& kernel_prober() {
    static KernelProber prober;
    return prober;
}

Choice choose(std::string_view event, const std::vector<Hook>& candidates, Prober& prober) {
    Choice choice;
    for (std::size_t i = 0; i < candidates.size(); i++) {
        features::Support support = prober.probe(candidates[i]);
        if (support) {
            choice.index = i;
            choice.hook = candidates[i];
            choice.reason = support.reason;
            return choice;
        }
        choice.passed_over.emplace_back(candidates[i], support.reason);
    }
    std::string why;
    for (const auto& [hook, reason] : choice.passed_over)
        why += fmt::format("{}{}: {}", why.empty() ? "" : "; ", hook.describe(), reason);
    throw Error(fmt::format("this kernel supports no hook for {} ({})", event, why), EOPNOTSUPP);
}

namespace {
bpf_program* keep_chosen(std::string_view event, const std::vector<bpf_program*>& programs,
                         Prober& prober) {
    std::vector<Hook> hooks;
    for (bpf_program* prog : programs)
        hooks.push_back(Hook::from_section(bpf_program__section_name(prog)));
    Choice choice = choose(event, hooks, prober);
    for (const auto& [hook, reason] : choice.passed_over)
        log::debug("{}: passed over {}: {}", event, hook.describe(), reason);
    log::debug("{}: using {}: {}", event, choice.hook.describe(), choice.reason);
    for (std::size_t i = 0; i < programs.size(); i++)
        bpf_program__set_autoload(programs[i], i == choice.index);
    return programs[choice.index];
}
} // namespace

void skip(bpf_object* object, const EventHooks& need) {
    bpf_program* prog;
    bpf_object__for_each_program(prog, object) {
        for (auto section : need.sections)
            if (section == bpf_program__section_name(prog))
                bpf_program__set_autoload(prog, false);
    }
}

bool prefer_all(bpf_object* object, std::span<const EventHooks> group, bool required) {
    try {
        for (const EventHooks& need : group)
            prefer(object, need);
        return true;
    } catch (const Error& e) {
        if (required)
            throw;
        for (const EventHooks& need : group)
            skip(object, need);
        log::debug("{}: not traced: {}", group.front().event, e.what());
        return false;
    }
}

bool function_hook(std::string_view section) {
    switch (Hook::from_section(section).kind) {
    case Kind::fentry:
    case Kind::fexit:
    case Kind::kprobe:
    case Kind::kretprobe:
        return true;
    default:
        return false;
    }
}

bool function_hook(const bpf_program* program) {
    return function_hook(bpf_program__section_name(program));
}

std::vector<Hook> EventHooks::hooks() const {
    std::vector<Hook> out;
    for (auto section : sections)
        out.push_back(Hook::from_section(section));
    return out;
}

std::vector<Hook> EventHooks::tracepoint_hooks() const {
    std::vector<Hook> out;
    for (auto section : sections)
        if (!function_hook(section))
            out.push_back(Hook::from_section(section));
    return out;
}

bool function_path_here(std::span<const EventHooks> table, Prober& prober) {
    const auto& first = table.front();
    return function_hook(choose(first.event, first.hooks(), prober).hook.describe());
}

bool prefer_path(bpf_object* object, std::span<const EventHooks> table) {
    const bpf_program* first = prefer(object, table.front());
    const bool functions = function_hook(first);
    const Path other = functions ? Path::tracepoint : Path::function;
    // The other path's events first: their programs are not among those kept below.
    for (const auto& event : table.subspan(1))
        if (event.path == other)
            skip(object, event);
    for (const auto& event : table.subspan(1)) {
        if (event.path == other)
            continue;
        bpf_program* chosen;
        try {
            chosen = prefer(object, event);
        } catch (const Error& e) {
            if (!event.optional)
                throw;
            skip(object, event);
            log::debug("{}: not traced: {}", event.event, e.what());
            continue;
        }
        // (An event listing no function hook uses its tracepoint on both paths.)
        const bool has_function_hook =
            std::any_of(event.sections.begin(), event.sections.end(),
                        [](std::string_view section) { return function_hook(section); });
        if (functions && event.path == Path::both && has_function_hook && !function_hook(chosen))
            throw Error(fmt::format("{} uses {} but {} can only use {}: not loading a mix of "
                                    "function hooks and tracepoints (CORETRACE_DISABLE=fentry,"
                                    "kprobe selects the tracepoints)",
                                    table.front().event, bpf_program__section_name(first),
                                    event.event, bpf_program__section_name(chosen)));
        if (functions || !function_hook(chosen))
            continue;
        // The tracepoint path, but this event's function hook works where the first's did not:
        // its tracepoint, as the rest of the path.
        std::vector<std::string_view> function_sections, tracepoint_sections;
        for (auto section : event.sections)
            (function_hook(section) ? function_sections : tracepoint_sections).push_back(section);
        skip(object, {event.event, function_sections});
        log::debug("{}: not using {}: {} is on a tracepoint", event.event,
                   bpf_program__section_name(chosen), table.front().event);
        prefer(object, {event.event, tracepoint_sections});
    }
    return functions;
}

bpf_program* prefer(bpf_object* object, const EventHooks& need, Prober& prober) {
    std::vector<bpf_program*> programs;
    for (auto section : need.sections) {
        bpf_program* found = nullptr;
        bpf_program* prog;
        bpf_object__for_each_program(prog, object) {
            if (section == bpf_program__section_name(prog))
                found = prog;
        }
        if (!found)
            throw Error(fmt::format("BPF object {} has no program in section {}",
                                    bpf_object__name(object), section));
        programs.push_back(found);
    }
    return keep_chosen(need.event, programs, prober);
}

} // namespace coretrace::hooks
