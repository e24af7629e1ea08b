// Owner of a libbpf skeleton (bpftool gen skeleton): open -> configure .rodata and maps ->
// load -> attach, with every failure an Error and everything released when it dies.
#pragma once

#include "coretrace/core_btf.hpp"
#include "coretrace/error.hpp"
#include "coretrace/log.hpp"

#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>

namespace coretrace {

struct OpenOptions {
    // BTF to use for CO-RE relocations instead of the running kernel's.
    std::string btf_custom_path;
    // Without btf_custom_path: relocate against a minimized copy of the kernel's BTF, cached
    // per kernel build (core_btf.hpp), instead of parsing all of it at every start.
    bool minimized_kernel_btf = true;
};

// How many times the object's loaded programs were skipped because another BPF program was
// running on that CPU (bpf_prog_info::recursion_misses, summed): events a tool did not see.
std::uint64_t recursion_misses(bpf_object* object);

namespace detail {
// Loads the object, turning a failure into an Error that carries the verifier log.
void load_object(bpf_object* object, int (*load)(void*), void* skeleton);
// Attaches every program that is set to load and auto-attach; links go into the skeleton so
// that destroying it detaches them. Names the program that failed.
void attach_skeleton(bpf_object_skeleton* skeleton);
// Opens with libbpf's logger installed; throws on failure.
void check_opened(const void* skeleton);
} // namespace detail

template <typename Skel> class Skeleton {
  public:
    static Skeleton open(const OpenOptions& options = {}) {
        log::install_libbpf_logger();
        bpf_object_open_opts opts{};
        opts.sz = sizeof(opts);
        std::string btf_path = options.btf_custom_path;
        if (btf_path.empty() && options.minimized_kernel_btf) {
            std::size_t size = 0;
            const void* elf = Skel::elf_bytes(&size);
            btf_path = btf::cached_minimized_btf({static_cast<const std::byte*>(elf), size});
        }
        if (!btf_path.empty())
            opts.btf_custom_path = btf_path.c_str();
        errno = 0;
        Skel* raw = Skel::open(&opts);
        detail::check_opened(raw);
        return Skeleton(raw);
    }

    Skeleton(Skeleton&& other) noexcept : skel_(std::exchange(other.skel_, nullptr)) {}
    Skeleton& operator=(Skeleton&& other) noexcept {
        if (this != &other) {
            reset();
            skel_ = std::exchange(other.skel_, nullptr);
        }
        return *this;
    }
    Skeleton(const Skeleton&) = delete;
    Skeleton& operator=(const Skeleton&) = delete;
    ~Skeleton() { reset(); }

    Skel* operator->() const noexcept { return skel_; }
    Skel& operator*() const noexcept { return *skel_; }
    Skel* get() const noexcept { return skel_; }
    bpf_object* object() const noexcept { return skel_->obj; }

    // Creates maps, relocates (CO-RE) and verifies programs. .rodata is frozen afterwards.
    void load() {
        detail::load_object(
            skel_->obj, [](void* s) { return Skel::load(static_cast<Skel*>(s)); }, skel_);
    }
    void attach() { detail::attach_skeleton(skel_->skeleton); }
    // Detaches every program; maps and globals stay readable until the skeleton dies.
    void detach() { Skel::detach(skel_); }

  private:
    explicit Skeleton(Skel* skel) : skel_(skel) {}
    void reset() noexcept {
        if (skel_)
            Skel::destroy(std::exchange(skel_, nullptr));
    }

    Skel* skel_ = nullptr;
};

} // namespace coretrace
