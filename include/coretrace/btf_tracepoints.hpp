// BTF-typed tracepoints (tp_btf) and BTF functions (fentry targets) of the kernel, read from its
// BTF: each tracepoint is a `btf_trace_<name>` typedef of a pointer to the tracepoint's function
// prototype, whose parameters after the first (the probe's `void *` data) are its arguments.
// That prototype has no parameter names; they come from the function `__probestub_<name>`
// (kernels >= 6.4) or `__bpf_trace_<name>` (older; exists when the event is its own class) that
// has the same prototype with names.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct btf;
struct btf_dump;

namespace coretrace::btf {

struct Argument {
    std::string type; // as C spells it: "struct task_struct *", "bool", "void (*)(int)"
    std::string name; // may be empty in BTF
};

// The kernel's BTF, parsed in full by libbpf (about 17 ms for vmlinux: done only when asked).
class KernelTypes {
  public:
    // Throws Error when `path` is missing or not BTF.
    explicit KernelTypes(const std::string& path);
    ~KernelTypes();
    KernelTypes(KernelTypes&&) noexcept;
    KernelTypes& operator=(KernelTypes&&) noexcept;

    // Every tracepoint with a btf_trace_ typedef, sorted, without the prefix.
    std::vector<std::string> tracepoints() const;
    // A tracepoint's arguments, or nullopt if BTF has no btf_trace_<name>.
    std::optional<std::vector<Argument>> tracepoint_arguments(const std::string& name) const;
    // Every BTF function (kind FUNC), sorted and unique: what fentry/fexit could attach to.
    std::vector<std::string> functions() const;
    // A function's parameters, or nullopt if it is not a BTF function.
    std::optional<std::vector<Argument>> function_arguments(const std::string& name) const;

  private:
    std::vector<Argument> prototype_parameters(unsigned proto_id, bool skip_first) const;
    // Functions and btf_trace_ typedefs by name, built on the first argument lookup.
    void index() const;
    std::optional<unsigned> lookup(const std::string& name, bool typedef_) const;

    struct ::btf* btf_ = nullptr;
    // One renderer for all lookups: a new one costs allocations sized by the 100k+ types.
    mutable struct ::btf_dump* dump_ = nullptr;
    mutable std::unique_ptr<std::string> rendered_ = std::make_unique<std::string>();
    mutable std::unordered_map<std::string_view, unsigned> functions_, typedefs_;
    mutable unsigned linear_lookups_ = 0;
};

} // namespace coretrace::btf
