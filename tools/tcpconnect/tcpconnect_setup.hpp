// tcpconnect's kernel side, opened and configured (not loaded: the event tool loads it with its
// stream and task filter, run_events): the skeleton, its path chosen (fexit on tcp_v4_connect
// and tcp_v6_connect, else sock:inet_sock_set_state with connect(2)'s exit) and .rodata
// written. Shared by the tcpconnect tool and the exporter (src/exporter/).
#pragma once

#include "tcpconnect.skel.h"
#include "tcpconnect.h"

#include "coretrace/hooks.hpp"
#include "coretrace/inet_address.hpp"
#include "coretrace/skeleton.hpp"

#include <string>
#include <string_view>

namespace coretrace::tcpconnect {

// Two paths (hooks::prefer_path): the function hooks (fexit on tcp_v4_connect and tcp_v6_connect),
// or sock:inet_sock_set_state (CLOSE->SYN_SENT, leaving SYN_SENT, both families) with connect(2)'s
// exit. The first row decides.
inline constexpr std::string_view connect_v4[] = {"fexit/tcp_v4_connect",
                                                  "tp/sock/inet_sock_set_state"};
inline constexpr std::string_view connect_v6[] = {"fexit/tcp_v6_connect",
                                                  "tp/sock/inet_sock_set_state"};
inline constexpr std::string_view connect_exit[] = {"tp/syscalls/sys_exit_connect"};
inline constexpr hooks::EventHooks hook_table[] = {
    {"TCP connect over IPv4", connect_v4},
    {"TCP connect over IPv6", connect_v6},
    {"connect(2) exit", connect_exit, /*optional=*/false, hooks::Path::tracepoint},
};

struct Settings {
    std::string ports; // -P: destination ports "80,443"; empty: any
};

inline Skeleton<tcpconnect_bpf> open(const Settings& settings) {
    auto skel = Skeleton<tcpconnect_bpf>::open();
    hooks::prefer_path(skel.object(), hook_table);
    inet::store_ports(settings.ports, skel->rodata->targ_ports, skel->rodata->targ_ports_len);
    return skel;
}

} // namespace coretrace::tcpconnect
