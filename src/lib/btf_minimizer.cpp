// Cuts the kernel types that a BPF object's CO-RE relocations touch out of the kernel's BTF.
// A relocation names a path of members from a root type ("task_struct" . "comm"); libbpf
// matches it against kernel types of the same name, member by member by name, looking through
// anonymous structs and unions. Keeping exactly the members on every matched path, at their
// offsets, with the sizes of their types, makes libbpf compute the same relocations. As a
// guard, every relocation is resolved against both BTFs and the answers must agree.
#include "coretrace/core_btf.hpp"

#include "coretrace/error.hpp"

#include <fmt/format.h>
#include <linux/bpf.h>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>

namespace coretrace::btf {
namespace {

using BtfPtr = std::unique_ptr<struct btf, void (*)(struct btf*)>;

// Typedefs and qualifiers do not change layout: CO-RE looks through them.
const btf_type* skip_modifiers(const struct btf* b, std::uint32_t id, std::uint32_t* out_id) {
    const btf_type* t = btf__type_by_id(b, id);
    while (t && (btf_is_typedef(t) || btf_is_mod(t))) {
        id = t->type;
        t = btf__type_by_id(b, id);
    }
    if (out_id)
        *out_id = id;
    return t;
}

std::string_view name_of(const struct btf* b, std::uint32_t name_off) {
    const char* name = btf__name_by_offset(b, name_off);
    return name ? name : "";
}

// "task_struct___pre514" and "task_struct" are the same type to CO-RE.
std::string_view essential(std::string_view name) {
    auto flavor = name.find("___");
    return flavor == std::string_view::npos ? name : name.substr(0, flavor);
}

bool is_field_relocation(std::uint32_t kind) {
    return kind <= BPF_CORE_FIELD_RSHIFT_U64;
}

struct Accessor {
    bool array = false;
    std::string name;    // member name (named members only: anonymous ones are implicit)
    std::uint32_t index; // array index
};

struct LocalSpec {
    std::string root_name;
    std::uint16_t root_kind;
    std::uint32_t first_index = 0;
    std::vector<Accessor> accessors;
};

LocalSpec local_spec(const struct btf* local, const CoreRelocation& relo) {
    LocalSpec spec;
    std::uint32_t id;
    const btf_type* t = skip_modifiers(local, relo.type_id, &id);
    if (!t)
        throw Error("CO-RE relocation names an unknown local type");
    spec.root_name = essential(name_of(local, t->name_off));
    spec.root_kind = btf_kind(t);
    std::vector<std::uint32_t> indices;
    for (std::size_t at = 0; at < relo.access.size();) {
        auto colon = relo.access.find(':', at);
        indices.push_back(
            static_cast<std::uint32_t>(std::stoul(relo.access.substr(at, colon - at))));
        at = colon == std::string::npos ? relo.access.size() : colon + 1;
    }
    if (indices.empty())
        throw Error("CO-RE relocation has an empty access string");
    spec.first_index = indices[0];
    if (!is_field_relocation(relo.kind))
        return spec;
    for (std::size_t i = 1; i < indices.size(); i++) {
        t = btf__type_by_id(local, id);
        if (btf_is_composite(t)) {
            if (indices[i] >= btf_vlen(t))
                throw Error("CO-RE access string out of range");
            const btf_member& m = btf_members(t)[indices[i]];
            auto name = name_of(local, m.name_off);
            if (!name.empty())
                spec.accessors.push_back({false, std::string(name), 0});
            skip_modifiers(local, m.type, &id);
        } else if (btf_is_array(t)) {
            spec.accessors.push_back({true, {}, indices[i]});
            skip_modifiers(local, btf_array(t)->type, &id);
        } else {
            throw Error("CO-RE access string walks into a scalar");
        }
    }
    return spec;
}

// Where a relocation lands in one candidate root type of a target BTF.
struct Resolution {
    std::uint32_t root = 0;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> members; // (composite id, member index)
    std::uint64_t bit_offset = 0;
    std::uint32_t leaf = 0; // type of the accessed field
};

bool find_member(const struct btf* b, std::uint32_t composite, std::string_view name,
                 Resolution& res, std::uint32_t& member_type) {
    const btf_type* t = btf__type_by_id(b, composite);
    const btf_member* members = btf_members(t);
    for (std::uint32_t i = 0; i < btf_vlen(t); i++) {
        res.members.emplace_back(composite, i);
        res.bit_offset += btf_member_bit_offset(t, i);
        auto member_name = name_of(b, members[i].name_off);
        if (member_name.empty()) {
            std::uint32_t inner;
            const btf_type* it = skip_modifiers(b, members[i].type, &inner);
            if (it && btf_is_composite(it) && find_member(b, inner, name, res, member_type))
                return true;
        } else if (member_name == name) {
            member_type = members[i].type;
            return true;
        }
        res.bit_offset -= btf_member_bit_offset(t, i);
        res.members.pop_back();
    }
    return false;
}

std::optional<Resolution> resolve(const struct btf* b, std::uint32_t root, const LocalSpec& spec) {
    Resolution res;
    res.root = root;
    res.bit_offset = std::uint64_t(spec.first_index) * btf__resolve_size(b, root) * 8;
    std::uint32_t current = root;
    for (const auto& accessor : spec.accessors) {
        std::uint32_t id;
        const btf_type* t = skip_modifiers(b, current, &id);
        if (accessor.array) {
            if (!t || !btf_is_array(t))
                return std::nullopt;
            current = btf_array(t)->type;
            res.bit_offset += std::uint64_t(accessor.index) * btf__resolve_size(b, current) * 8;
        } else if (!t || !btf_is_composite(t) || !find_member(b, id, accessor.name, res, current)) {
            return std::nullopt;
        }
    }
    res.leaf = current;
    return res;
}

std::vector<std::uint32_t> candidates(const struct btf* b, const LocalSpec& spec) {
    std::vector<std::uint32_t> ids;
    const bool want_enum = spec.root_kind == BTF_KIND_ENUM || spec.root_kind == BTF_KIND_ENUM64;
    for (std::uint32_t id = 1; id < btf__type_cnt(b); id++) {
        const btf_type* t = btf__type_by_id(b, id);
        bool kind_ok =
            want_enum ? (btf_is_enum(t) || btf_is_enum64(t)) : btf_kind(t) == spec.root_kind;
        if (kind_ok && essential(name_of(b, t->name_off)) == spec.root_name)
            ids.push_back(id);
    }
    return ids;
}

// What the relocation resolves to in `b`: (bit offset, field size) per matching candidate.
std::set<std::pair<std::uint64_t, std::int64_t>> answers(const struct btf* b,
                                                         const LocalSpec& spec) {
    std::set<std::pair<std::uint64_t, std::int64_t>> out;
    for (auto root : candidates(b, spec))
        if (auto res = resolve(b, root, spec))
            out.emplace(res->bit_offset, btf__resolve_size(b, res->leaf));
    return out;
}

// Copies types into a new BTF: composites with only their kept members, pointers as void*.
class Emitter {
  public:
    Emitter(const struct btf* source, const std::map<std::uint32_t, std::set<std::uint32_t>>& kept)
        : source_(source), kept_(kept), out_(btf__new_empty(), btf__free) {
        if (!out_)
            throw Error("cannot create a BTF object");
    }

    std::uint32_t emit(std::uint32_t id) {
        if (id == 0)
            return 0;
        if (auto it = done_.find(id); it != done_.end())
            return it->second;
        const btf_type* t = btf__type_by_id(source_, id);
        std::string name(name_of(source_, t->name_off));
        const char* n = name.empty() ? nullptr : name.c_str();
        int added;
        switch (btf_kind(t)) {
        case BTF_KIND_INT:
            added = btf__add_int(out_.get(), n, t->size, btf_int_encoding(t));
            break;
        case BTF_KIND_FLOAT:
            added = btf__add_float(out_.get(), n, t->size);
            break;
        case BTF_KIND_PTR: // CO-RE only checks that both sides are pointers
            added = btf__add_ptr(out_.get(), 0);
            break;
        case BTF_KIND_ARRAY: {
            const struct btf_array* a = btf_array(t);
            std::uint32_t elem = emit(a->type), index = emit(a->index_type);
            added = btf__add_array(out_.get(), static_cast<int>(index), static_cast<int>(elem),
                                   a->nelems);
            break;
        }
        case BTF_KIND_TYPEDEF:
            added = btf__add_typedef(out_.get(), n, static_cast<int>(emit(t->type)));
            break;
        case BTF_KIND_VOLATILE:
            added = btf__add_volatile(out_.get(), static_cast<int>(emit(t->type)));
            break;
        case BTF_KIND_CONST:
            added = btf__add_const(out_.get(), static_cast<int>(emit(t->type)));
            break;
        case BTF_KIND_RESTRICT:
            added = btf__add_restrict(out_.get(), static_cast<int>(emit(t->type)));
            break;
        case BTF_KIND_TYPE_TAG:
            added = btf__add_type_tag(out_.get(), n, static_cast<int>(emit(t->type)));
            break;
        case BTF_KIND_ENUM:
            added = btf__add_enum(out_.get(), n, t->size);
            for (std::uint32_t i = 0; i < btf_vlen(t) && added > 0; i++)
                check(btf__add_enum_value(
                    out_.get(), std::string(name_of(source_, btf_enum(t)[i].name_off)).c_str(),
                    btf_enum(t)[i].val));
            break;
        case BTF_KIND_ENUM64:
            added = btf__add_enum64(out_.get(), n, t->size, btf_kflag(t));
            for (std::uint32_t i = 0; i < btf_vlen(t) && added > 0; i++)
                check(btf__add_enum64_value(
                    out_.get(), std::string(name_of(source_, btf_enum64(t)[i].name_off)).c_str(),
                    btf_enum64_value(btf_enum64(t) + i)));
            break;
        case BTF_KIND_FWD:
            added = btf__add_fwd(out_.get(), n, btf_kflag(t) ? BTF_FWD_UNION : BTF_FWD_STRUCT);
            break;
        case BTF_KIND_STRUCT:
        case BTF_KIND_UNION:
            added = emit_composite(id, t, n);
            break;
        default: // functions, variables, sections: never part of a field's layout
            return done_[id] = 0;
        }
        return done_[id] = check(added);
    }

    std::vector<std::uint8_t> raw() const {
        __u32 size = 0;
        const void* data = btf__raw_data(out_.get(), &size);
        if (!data)
            throw Error("cannot serialize the minimized BTF");
        auto bytes = static_cast<const std::uint8_t*>(data);
        return {bytes, bytes + size};
    }

  private:
    int emit_composite(std::uint32_t id, const btf_type* t, const char* name) {
        static const std::set<std::uint32_t> none;
        auto it = kept_.find(id);
        const auto& keep = it == kept_.end() ? none : it->second;
        std::map<std::uint32_t, std::uint32_t> member_types; // emitted before the struct itself
        for (auto i : keep)
            member_types[i] = emit(btf_members(t)[i].type);
        int added = btf_is_struct(t) ? btf__add_struct(out_.get(), name, t->size)
                                     : btf__add_union(out_.get(), name, t->size);
        check(added);
        for (auto i : keep) {
            std::string member(name_of(source_, btf_members(t)[i].name_off));
            check(btf__add_field(out_.get(), member.empty() ? nullptr : member.c_str(),
                                 static_cast<int>(member_types[i]), btf_member_bit_offset(t, i),
                                 btf_member_bitfield_size(t, i)));
        }
        return added;
    }

    static std::uint32_t check(int ret) {
        if (ret < 0)
            throw Error(fmt::format("building the minimized BTF failed: error {}", ret));
        return static_cast<std::uint32_t>(ret);
    }

    const struct btf* source_;
    const std::map<std::uint32_t, std::set<std::uint32_t>>& kept_;
    BtfPtr out_;
    std::map<std::uint32_t, std::uint32_t> done_;
};

} // namespace

std::vector<std::uint8_t> minimize(const ObjectCoreInfo& object, const struct btf* kernel) {
    BtfPtr local(btf__new(object.btf.data(), static_cast<__u32>(object.btf.size())), btf__free);
    if (!local)
        throw Error("BPF object has malformed BTF");

    std::map<std::uint32_t, std::set<std::uint32_t>> kept; // composite -> members to keep
    std::set<std::uint32_t> roots;                         // types to emit
    std::vector<LocalSpec> field_specs;
    for (const auto& relo : object.relocations) {
        if (relo.kind == BPF_CORE_TYPE_ID_LOCAL)
            continue;
        if (relo.kind == BPF_CORE_TYPE_MATCHES)
            throw Error("CO-RE type-match relocations are not minimized");
        LocalSpec spec = local_spec(local.get(), relo);
        auto roots_here = candidates(kernel, spec);
        if (roots_here.empty())
            throw Error(fmt::format("{} is not in the kernel's vmlinux BTF (a module's type?)",
                                    spec.root_name));
        for (auto root : roots_here) {
            if (!is_field_relocation(relo.kind)) {
                roots.insert(root); // type and enum relocations need the whole (small) type
                continue;
            }
            if (auto res = resolve(kernel, root, spec)) {
                roots.insert(root);
                for (auto [composite, member] : res->members)
                    kept[composite].insert(member);
            }
        }
        if (is_field_relocation(relo.kind))
            field_specs.push_back(std::move(spec));
    }

    Emitter emitter(kernel, kept);
    for (auto root : roots)
        emitter.emit(root);
    std::vector<std::uint8_t> raw = emitter.raw();

    BtfPtr minimized(btf__new(raw.data(), static_cast<__u32>(raw.size())), btf__free);
    if (!minimized)
        throw Error("the minimized BTF does not parse");
    for (const auto& spec : field_specs)
        if (answers(kernel, spec) != answers(minimized.get(), spec))
            throw Error(
                fmt::format("the minimized BTF resolves a {} field differently", spec.root_name));
    return raw;
}

} // namespace coretrace::btf
