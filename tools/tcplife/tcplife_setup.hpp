// tcplife's kernel side, opened and configured (not loaded: the event tool loads it with its
// stream, run_events): the skeleton, its inet_sock_set_state and accept(2) hooks chosen and
// .rodata written. Shared by the tcplife tool and the exporter (src/exporter/).
#pragma once

#include "tcplife.skel.h"
#include "tcplife.h"

#include "coretrace/hooks.hpp"
#include "coretrace/inet_address.hpp"
#include "coretrace/skeleton.hpp"

#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/types.h>

namespace coretrace::tcplife {

inline constexpr std::string_view state_change[] = {"tp/sock/inet_sock_set_state"};
inline constexpr std::string_view accept4_exit[] = {"tp/syscalls/sys_exit_accept4"};
inline constexpr std::string_view accept_exit[] = {"tp/syscalls/sys_exit_accept"};
inline constexpr hooks::EventHooks hook_table[] = {
    {"TCP state change", state_change},
    {"accept4(2) exit (owner of a passive socket)", accept4_exit},
    {"accept(2) exit (owner of a passive socket)", accept_exit},
};

struct Settings {
    pid_t pid = 0;            // -p: sessions owned by this process only; 0: any
    int family = 0;           // -4 / -6: AF_INET or AF_INET6 only; 0: both
    std::string local_ports;  // -L: "80,443"; empty: any
    std::string remote_ports; // -D
};

inline Skeleton<tcplife_bpf> open(const Settings& settings) {
    auto skel = Skeleton<tcplife_bpf>::open();
    for (const auto& event : hook_table)
        hooks::prefer(skel.object(), event);
    skel->rodata->targ_pid = static_cast<__u32>(settings.pid);
    skel->rodata->targ_family = static_cast<__u16>(settings.family);
    inet::store_ports(settings.local_ports, skel->rodata->targ_sports,
                      skel->rodata->targ_sports_len);
    inet::store_ports(settings.remote_ports, skel->rodata->targ_dports,
                      skel->rodata->targ_dports_len);
    return skel;
}

} // namespace coretrace::tcplife
