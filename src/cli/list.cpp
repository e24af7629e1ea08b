// `coretrace list [PATTERN]`: the hooks this machine offers, named as bpftrace names them
// (`tracepoint:syscalls:sys_enter_openat`), found the cheap way for each kind: tracefs's
// available_events for tracepoints, the kernel's BTF for tp_btf (parsed only when asked for),
// ELF symbol tables and stapsdt notes for uprobes and USDT probes.
#include "commands.hpp"

#include "coretrace/btf_tracepoints.hpp"
#include "coretrace/elf_file.hpp"
#include "coretrace/error.hpp"
#include "coretrace/features.hpp"
#include "coretrace/kernel_btf.hpp"
#include "coretrace/process_maps.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"
#include "coretrace/tracefs_events.hpp"
#include "coretrace/usdt_notes.hpp"
#include "coretrace/wildcard.hpp"

#include <algorithm>
#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unistd.h>

namespace coretrace::cli {
namespace {

enum class Kind { tracepoint, rawtracepoint, tp_btf, kprobe, fentry, uprobe, usdt };

struct TypeName {
    std::string_view alias;
    Kind kind;
    std::string_view canonical; // how listed hooks are named
};
constexpr TypeName type_names[] = {
    {"tracepoint", Kind::tracepoint, "tracepoint"},
    {"t", Kind::tracepoint, "tracepoint"},
    {"rawtracepoint", Kind::rawtracepoint, "rawtracepoint"},
    {"rt", Kind::rawtracepoint, "rawtracepoint"},
    {"raw_tp", Kind::rawtracepoint, "rawtracepoint"},
    {"tp_btf", Kind::tp_btf, "tp_btf"},
    {"kprobe", Kind::kprobe, "kprobe"},
    {"k", Kind::kprobe, "kprobe"},
    {"kretprobe", Kind::kprobe, "kretprobe"},
    {"kr", Kind::kprobe, "kretprobe"},
    {"fentry", Kind::fentry, "fentry"},
    {"f", Kind::fentry, "fentry"},
    {"kfunc", Kind::fentry, "fentry"},
    {"fexit", Kind::fentry, "fexit"},
    {"fr", Kind::fentry, "fexit"},
    {"kretfunc", Kind::fentry, "fexit"},
    {"uprobe", Kind::uprobe, "uprobe"},
    {"u", Kind::uprobe, "uprobe"},
    {"uretprobe", Kind::uprobe, "uretprobe"},
    {"ur", Kind::uprobe, "uretprobe"},
    {"usdt", Kind::usdt, "usdt"},
    {"U", Kind::usdt, "usdt"},
};

const TypeName* find_type(std::string_view alias) {
    for (const auto& t : type_names)
        if (t.alias == alias)
            return &t;
    return nullptr;
}

// One kind of hook to list: its type, for uprobe/usdt the file ("*": every file a process maps),
// and the pattern for what follows "type:" (or "type:file:").
struct Request {
    const TypeName* type;
    std::string file;
    std::string pattern;
};

struct Query {
    std::vector<Request> requests;
    std::string whole; // when set, matched against the whole hook name (no type was given)
};

// A pattern for a name with a ':' inside ("category:event", "provider:name"): a pattern without
// ':' may match the last part alone, so `tracepoint:*openat` and `usdt:FILE:probe` work.
bool match_compound(std::string_view pattern, std::string_view compound) {
    if (wildcard_match(pattern, compound))
        return true;
    auto colon = compound.rfind(':');
    return pattern.find(':') == std::string_view::npos && colon != std::string_view::npos &&
           wildcard_match(pattern, compound.substr(colon + 1));
}

Query parse_query(const std::string& text, bool have_pid) {
    Query query;
    auto add_defaults = [&query] {
        for (auto alias : {"tracepoint", "rawtracepoint", "tp_btf", "kprobe", "fentry"})
            query.requests.push_back({find_type(alias), "", "*"});
    };
    if (text.empty()) {
        if (have_pid)
            query.requests.push_back({find_type("usdt"), "*", "*"});
        else
            add_defaults();
        return query;
    }
    auto colon = text.find(':');
    std::string head = text.substr(0, colon);
    const TypeName* type = find_type(head);
    if (!type) {
        if (colon != std::string::npos && !has_wildcard(head))
            throw CLI::ValidationError("PATTERN",
                                       fmt::format("unknown probe type '{}' (tracepoint, "
                                                   "rawtracepoint, tp_btf, kprobe, fentry, uprobe, "
                                                   "usdt)",
                                                   head));
        add_defaults();
        query.whole = text;
        return query;
    }
    std::string rest = colon == std::string::npos ? "" : text.substr(colon + 1);
    Request request{type, "", rest.empty() ? "*" : rest};
    if (type->kind == Kind::uprobe || type->kind == Kind::usdt) {
        auto split = rest.find(':');
        request.file = rest.substr(0, split);
        request.pattern =
            split == std::string::npos || split + 1 == rest.size() ? "*" : rest.substr(split + 1);
        if (request.file.empty())
            request.file = "*";
        if (request.file == "*" && !have_pid)
            throw CLI::ValidationError(
                "PATTERN", fmt::format("{}:* needs -p PID (or name a file: {}:/path/to/file:*)",
                                       type->canonical, type->canonical));
    }
    query.requests.push_back(std::move(request));
    return query;
}

struct Options {
    CommonOptions common;
    std::string pattern;
    int pid = 0;
};

// Prints hooks as they are found: a name per line, or JSON Lines; details only when -v.
class Printer {
  public:
    Printer(const Options& options, std::string whole)
        : options_(options), whole_(std::move(whole)) {}
    ~Printer() { flush(); }

    using Fill = std::function<void(nlohmann::json&, std::vector<std::string>&)>;
    // `fill` adds the hook's JSON fields and -v lines; called only when they will be shown.
    void hook(const std::string& name, const Fill& fill = {}) {
        if (!whole_.empty() && !wildcard_match(whole_, name))
            return;
        count_++;
        if (!options_.common.json && !options_.common.verbose) {
            text_ += name;
            text_ += '\n';
            if (text_.size() > (1 << 16))
                flush();
            return;
        }
        nlohmann::json json = {{"probe", name}};
        std::vector<std::string> details;
        if (fill)
            fill(json, details);
        if (options_.common.json) {
            flush();
            emit_json_line(json.dump());
            return;
        }
        text_ += name;
        text_ += '\n';
        for (const auto& line : details)
            text_ += "    " + line + "\n";
    }
    std::size_t count() const { return count_; }
    void flush() {
        std::fwrite(text_.data(), 1, text_.size(), stdout);
        std::fflush(stdout);
        text_.clear();
    }

  private:
    const Options& options_;
    std::string whole_;
    std::string text_;
    std::size_t count_ = 0;
};

// Kernel BTF, parsed at most once and only if a request needs it.
class LazyBtf {
  public:
    btf::KernelTypes& get() {
        if (!types_)
            types_.emplace(btf::vmlinux_path);
        return *types_;
    }
    bool available() const { return ::access(btf::vmlinux_path, R_OK) == 0; }

  private:
    std::optional<btf::KernelTypes> types_;
};

nlohmann::json arguments_json(const std::vector<btf::Argument>& arguments) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& a : arguments)
        list.push_back({{"name", a.name}, {"type", a.type}});
    return list;
}

// Hooks "TYPE:NAME" for the names the request's pattern matches; JSON names them under `key`,
// and -v adds their arguments when `arguments` knows them.
using ArgumentLookup = std::function<std::optional<std::vector<btf::Argument>>(const std::string&)>;
void list_names(const std::vector<std::string>& names, const Request& request,
                const Options& options, const char* key, Printer& out,
                const ArgumentLookup& arguments) {
    for (const auto& name : names) {
        if (!wildcard_match(request.pattern, name))
            continue;
        out.hook(fmt::format("{}:{}", request.type->canonical, name),
                 [&](nlohmann::json& json, std::vector<std::string>& lines) {
                     json["type"] = request.type->canonical;
                     json[key] = name;
                     if (!options.common.verbose)
                         return;
                     if (auto found = arguments(name)) {
                         json["args"] = arguments_json(*found);
                         for (const auto& a : *found)
                             lines.push_back(a.name.empty() ? a.type : a.type + " " + a.name);
                     }
                 });
    }
}

void list_tracepoints(const Request& request, const Options& options, Printer& out) {
    std::string root = sys::require_tracefs();
    for (const auto& event : tracefs::list_events(root)) {
        if (!match_compound(request.pattern, event.category + ":" + event.event))
            continue;
        out.hook(fmt::format("tracepoint:{}:{}", event.category, event.event),
                 [&](nlohmann::json& json, std::vector<std::string>& lines) {
                     json["type"] = "tracepoint";
                     json["category"] = event.category;
                     json["event"] = event.event;
                     if (!options.common.verbose)
                         return;
                     auto format = tracefs::read_format(root, event);
                     json["id"] = format.id;
                     json["fields"] = nlohmann::json::array();
                     for (const auto& f : format.fields) {
                         if (f.common)
                             continue;
                         json["fields"].push_back({{"name", f.name},
                                                   {"type", f.type},
                                                   {"offset", f.offset},
                                                   {"size", f.size},
                                                   {"signed", f.is_signed}});
                         lines.push_back(f.declaration);
                     }
                 });
    }
}

// Raw tracepoints and tp_btf: the btf_trace_ typedefs of the kernel's BTF (which also has the
// tracepoints without a tracefs event, like pelt_cfs_tp); without BTF, raw tracepoints are the
// tracefs events less the syscalls category (syscall events are not real tracepoints).
void list_btf_tracepoints(const Request& request, const Options& options, LazyBtf& kernel_btf,
                          Printer& out) {
    bool raw = request.type->kind == Kind::rawtracepoint;
    std::vector<std::string> names;
    if (kernel_btf.available()) {
        names = kernel_btf.get().tracepoints();
    } else if (raw) {
        for (auto& event : tracefs::list_events(sys::require_tracefs()))
            if (event.category != "syscalls")
                names.push_back(std::move(event.event));
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
    } else {
        if (request.pattern != "*" || !out.count())
            throw Error("tp_btf: " + features::kernel_btf().reason);
        return;
    }
    list_names(names, request, options, "event", out, [&](const std::string& name) {
        return kernel_btf.available() ? kernel_btf.get().tracepoint_arguments(name) : std::nullopt;
    });
}

// kprobe and fentry targets, only where the kernel lets them attach; otherwise why not.
void list_kernel_functions(const Request& request, const Options& options, LazyBtf& kernel_btf,
                           bool explicitly, Printer& out) {
    bool fentry = request.type->kind == Kind::fentry;
    features::Support support =
        fentry ? features::fentry("vfs_read", request.type->canonical == "fexit")
               : features::kprobe();
    if (!support) {
        if (explicitly)
            throw Error(fmt::format("{}: not available on this kernel: {}", request.type->canonical,
                                    support.reason));
        return;
    }
    std::vector<std::string> names;
    if (fentry) {
        names = kernel_btf.get().functions();
    } else {
        std::ifstream in(sys::require_tracefs() + "/available_filter_functions");
        std::set<std::string> unique;
        for (std::string line; std::getline(in, line);)
            unique.insert(line.substr(0, line.find_first_of(" \t")));
        names.assign(unique.begin(), unique.end());
    }
    list_names(names, request, options, "function", out,
               [&](const std::string& name) -> std::optional<std::vector<btf::Argument>> {
                   if (!fentry)
                       return std::nullopt;
                   return kernel_btf.get().function_arguments(name);
               });
}

std::string hex(std::uint64_t value) {
    return fmt::format("{:#x}", value);
}

void list_user_hooks(const Request& request, const Options& options, Printer& out) {
    bool usdt = request.type->kind == Kind::usdt;
    std::vector<std::string> files;
    bool from_process = request.file == "*";
    if (from_process)
        files = proc::mapped_files(options.pid);
    else
        files.push_back(elf::resolve_binary(request.file));
    for (const auto& path : files) {
        std::optional<elf::File> file;
        try {
            file.emplace(path);
        } catch (const Error&) {
            if (!from_process)
                throw;
            continue; // a data file mapped by the process
        }
        if (!usdt) {
            for (const auto& symbol : file->functions()) {
                if (!wildcard_match(request.pattern, symbol.name))
                    continue;
                out.hook(fmt::format("{}:{}:{}", request.type->canonical, path, symbol.name),
                         [&](nlohmann::json& json, std::vector<std::string>&) {
                             json["type"] = request.type->canonical;
                             json["path"] = path;
                             json["function"] = symbol.name;
                             json["address"] = symbol.address;
                             json["size"] = symbol.size;
                             json["binding"] = symbol.binding_name();
                             if (auto offset = file->file_offset(symbol.address))
                                 json["offset"] = *offset;
                         });
            }
            continue;
        }
        for (const auto& probe : usdt::probes(*file)) {
            if (!match_compound(request.pattern, probe.provider + ":" + probe.name))
                continue;
            out.hook(fmt::format("usdt:{}:{}:{}", path, probe.provider, probe.name),
                     [&](nlohmann::json& json, std::vector<std::string>& lines) {
                         json["type"] = "usdt";
                         json["path"] = path;
                         json["provider"] = probe.provider;
                         json["name"] = probe.name;
                         json["pc"] = probe.pc;
                         json["base"] = probe.base;
                         json["semaphore"] = probe.semaphore;
                         if (probe.pc_offset)
                             json["offset"] = *probe.pc_offset;
                         if (probe.semaphore_offset)
                             json["semaphore_offset"] = *probe.semaphore_offset;
                         json["arguments"] = probe.arguments;
                         auto specs = probe.argument_specs();
                         json["args"] = specs;
                         for (std::size_t i = 0; i < specs.size(); i++)
                             lines.push_back(fmt::format("arg{}: {}", i, specs[i]));
                         if (probe.semaphore)
                             lines.push_back("semaphore: " + hex(probe.semaphore));
                     });
        }
    }
}

int run(const Options& options) {
    Query query = parse_query(options.pattern, options.pid != 0);
    if (options.pid != 0)
        sys::require_process(options.pid);
    Printer out(options, query.whole);
    LazyBtf kernel_btf;
    bool explicitly = options.pattern.empty() ? false : query.whole.empty();
    for (const auto& request : query.requests) {
        switch (request.type->kind) {
        case Kind::tracepoint:
            list_tracepoints(request, options, out);
            break;
        case Kind::rawtracepoint:
        case Kind::tp_btf:
            list_btf_tracepoints(request, options, kernel_btf, out);
            break;
        case Kind::kprobe:
        case Kind::fentry:
            list_kernel_functions(request, options, kernel_btf, explicitly, out);
            break;
        case Kind::uprobe:
        case Kind::usdt:
            list_user_hooks(request, options, out);
            break;
        }
    }
    out.flush();
    if (out.count() == 0)
        throw Error(fmt::format("no probes match '{}'", options.pattern));
    return 0;
}

} // namespace

int list_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "List the hooks this machine offers, like bpftrace -l. PATTERN takes * and ? wildcards:\n"
        "  tracepoint:CATEGORY:EVENT   tracefs tracepoints (tracepoint:syscalls:*open*)\n"
        "  rawtracepoint:EVENT         raw tracepoints (raw_tp programs; names from kernel BTF)\n"
        "  tp_btf:EVENT                BTF-typed tracepoints (btf_trace_* in kernel BTF)\n"
        "  uprobe:FILE:FUNCTION        functions of an ELF file's .symtab/.dynsym; FILE may be a\n"
        "                              library name (libc) or a program on $PATH\n"
        "  usdt:FILE:PROVIDER:NAME     USDT probes of an ELF file (.note.stapsdt)\n"
        "  usdt:* -p PID               USDT probes of every file the process maps\n"
        "  kprobe:FUNCTION, fentry:FUNCTION   only where the kernel allows them (else says why)\n"
        "Without PATTERN: every tracepoint, raw tracepoint and tp_btf target (and kprobe/fentry\n"
        "targets where allowed). A PATTERN without a known type is matched against whole names.\n"
        "-v adds tracepoint fields (from tracefs format files), tp_btf/raw tracepoint arguments\n"
        "(from BTF) and USDT argument specs. Exit status 1 when nothing matches.",
        "list"};
    app.add_flag(
        "-v,--verbose", options.common.verbose,
        "Details: tracepoint fields, tp_btf/raw tracepoint arguments, USDT argument specs");
    app.add_flag("--json", options.common.json, "One JSON object per hook (JSON Lines)");
    app.add_option("PATTERN", options.pattern, "Hooks to list (wildcards * and ?)");
    app.add_option("-p,--pid", options.pid, "With usdt:* or uprobe:*: the files this process maps")
        ->check(CLI::PositiveNumber);
    return run_tool(app, argc, argv, options.common, [&] {
        try {
            return run(options);
        } catch (const CLI::ValidationError& e) {
            std::fprintf(stderr, "list: %s (see list --help)\n", e.what());
            return 2;
        }
    });
}

} // namespace coretrace::cli
