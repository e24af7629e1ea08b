// Owner of a bpf_link attached by hand (a uprobe or USDT probe resolved by name): destroying it
// detaches the program, so nothing stays attached after the owner dies.
#pragma once

#include <bpf/libbpf.h>
#include <memory>

namespace coretrace {

struct LinkDeleter {
    void operator()(bpf_link* link) const noexcept { bpf_link__destroy(link); }
};
using Link = std::unique_ptr<bpf_link, LinkDeleter>;

} // namespace coretrace
