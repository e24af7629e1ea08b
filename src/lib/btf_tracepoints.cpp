// tp_btf targets and fentry functions from the kernel's BTF via libbpf; argument types are
// rendered by libbpf's btf_dump so they read exactly as C declarations do.
#include "coretrace/btf_tracepoints.hpp"

#include "coretrace/error.hpp"

#include <algorithm>
#include <bpf/btf.h>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <string_view>
#include <utility>

namespace coretrace::btf {
namespace {

constexpr std::string_view tracepoint_prefix = "btf_trace_";

void append_printf(void* ctx, const char* format, va_list args) {
    auto* out = static_cast<std::string*>(ctx);
    char buffer[512];
    va_list copy;
    va_copy(copy, args);
    int n = std::vsnprintf(buffer, sizeof(buffer), format, copy);
    va_end(copy);
    if (n < 0)
        return;
    if (static_cast<std::size_t>(n) < sizeof(buffer)) {
        out->append(buffer, static_cast<std::size_t>(n));
    } else {
        std::string big(static_cast<std::size_t>(n) + 1, '\0');
        std::vsnprintf(big.data(), big.size(), format, args);
        big.pop_back();
        *out += big;
    }
}

} // namespace

KernelTypes::KernelTypes(const std::string& path) {
    btf_ = btf__parse(path.c_str(), nullptr);
    if (!btf_) {
        int err = errno;
        btf_ = nullptr;
        throw_system_error("reading kernel BTF " + path, err ? err : EINVAL);
    }
}
KernelTypes::~KernelTypes() {
    btf_dump__free(dump_);
    btf__free(btf_);
}
KernelTypes::KernelTypes(KernelTypes&& other) noexcept
    : btf_(std::exchange(other.btf_, nullptr)), dump_(std::exchange(other.dump_, nullptr)),
      rendered_(std::move(other.rendered_)), functions_(std::move(other.functions_)),
      typedefs_(std::move(other.typedefs_)), linear_lookups_(other.linear_lookups_) {}
KernelTypes& KernelTypes::operator=(KernelTypes&& other) noexcept {
    if (this != &other) {
        btf_dump__free(dump_);
        btf__free(btf_);
        btf_ = std::exchange(other.btf_, nullptr);
        dump_ = std::exchange(other.dump_, nullptr);
        rendered_ = std::move(other.rendered_);
        functions_ = std::move(other.functions_);
        typedefs_ = std::move(other.typedefs_);
        linear_lookups_ = other.linear_lookups_;
    }
    return *this;
}

void KernelTypes::index() const {
    if (!functions_.empty())
        return;
    unsigned count = btf__type_cnt(btf_);
    for (unsigned id = 1; id < count; id++) {
        const btf_type* type = btf__type_by_id(btf_, id);
        if (btf_is_func(type)) {
            functions_.emplace(btf__name_by_offset(btf_, type->name_off), id);
        } else if (btf_is_typedef(type)) {
            std::string_view name = btf__name_by_offset(btf_, type->name_off);
            if (name.starts_with(tracepoint_prefix))
                typedefs_.emplace(name, id);
        }
    }
}

std::optional<unsigned> KernelTypes::lookup(const std::string& name, bool typedef_) const {
    // A few lookups (-v of one tracepoint) are cheaper as libbpf's linear searches than building
    // the index (about 10 ms for vmlinux); -v of many tracepoints builds it.
    if (functions_.empty() && ++linear_lookups_ <= 16) {
        int id =
            btf__find_by_name_kind(btf_, name.c_str(), typedef_ ? BTF_KIND_TYPEDEF : BTF_KIND_FUNC);
        return id > 0 ? std::optional<unsigned>(static_cast<unsigned>(id)) : std::nullopt;
    }
    index();
    const auto& map = typedef_ ? typedefs_ : functions_;
    auto it = map.find(name);
    if (it == map.end())
        return std::nullopt;
    return it->second;
}

std::vector<std::string> KernelTypes::tracepoints() const {
    std::vector<std::string> names;
    unsigned count = btf__type_cnt(btf_);
    for (unsigned id = 1; id < count; id++) {
        const btf_type* type = btf__type_by_id(btf_, id);
        if (!btf_is_typedef(type))
            continue;
        std::string_view name = btf__name_by_offset(btf_, type->name_off);
        if (name.starts_with(tracepoint_prefix))
            names.emplace_back(name.substr(tracepoint_prefix.size()));
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

std::vector<std::string> KernelTypes::functions() const {
    std::vector<std::string> names;
    unsigned count = btf__type_cnt(btf_);
    for (unsigned id = 1; id < count; id++) {
        const btf_type* type = btf__type_by_id(btf_, id);
        if (btf_is_func(type))
            names.emplace_back(btf__name_by_offset(btf_, type->name_off));
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

std::vector<Argument> KernelTypes::prototype_parameters(unsigned proto_id, bool skip_first) const {
    std::vector<Argument> arguments;
    const btf_type* proto = btf__type_by_id(btf_, proto_id);
    if (!proto || !btf_is_func_proto(proto))
        return arguments;
    if (!dump_) {
        btf_dump_opts dump_opts{};
        dump_opts.sz = sizeof(dump_opts);
        dump_ = btf_dump__new(btf_, append_printf, rendered_.get(), &dump_opts);
        if (!dump_)
            throw_system_error("rendering BTF types", errno ? errno : ENOMEM);
    }
    std::string& text = *rendered_;
    const btf_param* params = btf_params(proto);
    for (unsigned i = skip_first ? 1 : 0; i < btf_vlen(proto); i++) {
        text.clear();
        btf_dump_emit_type_decl_opts decl_opts{};
        decl_opts.sz = sizeof(decl_opts);
        decl_opts.field_name = "";
        btf_dump__emit_type_decl(dump_, params[i].type, &decl_opts);
        arguments.push_back({text, btf__name_by_offset(btf_, params[i].name_off)});
    }
    return arguments;
}

std::optional<std::vector<Argument>>
KernelTypes::tracepoint_arguments(const std::string& name) const {
    auto id = lookup(std::string(tracepoint_prefix) + name, true);
    if (!id)
        return std::nullopt;
    // typedef -> pointer -> function prototype; the first parameter is the probe's data.
    const btf_type* type = btf__type_by_id(btf_, *id);
    const btf_type* pointer = btf__type_by_id(btf_, type->type);
    if (!pointer || !btf_is_ptr(pointer))
        return std::vector<Argument>{};
    auto arguments = prototype_parameters(pointer->type, true);
    // Names from a function of the same shape: the probe stub, or the event's own class.
    for (const char* prefix : {"__probestub_", "__bpf_trace_"}) {
        auto function = lookup(prefix + name, false);
        if (!function)
            continue;
        auto named = prototype_parameters(btf__type_by_id(btf_, *function)->type, true);
        bool same = named.size() == arguments.size();
        for (std::size_t i = 0; same && i < named.size(); i++)
            same = named[i].type == arguments[i].type;
        if (!same)
            continue;
        for (std::size_t i = 0; i < named.size(); i++)
            arguments[i].name = named[i].name;
        break;
    }
    return arguments;
}

std::optional<std::vector<Argument>>
KernelTypes::function_arguments(const std::string& name) const {
    auto id = lookup(name, false);
    if (!id)
        return std::nullopt;
    return prototype_parameters(btf__type_by_id(btf_, *id)->type, false);
}

} // namespace coretrace::btf
