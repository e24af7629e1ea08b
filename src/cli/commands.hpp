// The workbench commands of the coretrace binary (beside the tools): what main() dispatches to.
#pragma once

#include <string_view>

namespace coretrace::cli {

struct Command {
    std::string_view name;
    std::string_view summary;
    int (*main)(int argc, char** argv);
};

int audit_main(int argc, char** argv);
int exporter_main(int argc, char** argv);
int features_main(int argc, char** argv);
int bpf_main(int argc, char** argv);
int list_main(int argc, char** argv);
int trace_pipe_main(int argc, char** argv);

inline constexpr Command commands[] = {
    {"audit",
     "what BPF outlives its loader, is held by nobody, hooks devices or cgroups, or is risky",
     audit_main},
    {"bpf", "the BPF programs, maps and links loaded here, who holds them, where they are pinned",
     bpf_main},
    {"exporter", "the tools' in-kernel histograms and counters as Prometheus metrics on /metrics",
     exporter_main},
    {"features", "what this kernel offers to a tracing user, tested by the probes the tools use",
     features_main},
    {"list", "the hooks this machine offers (tracepoints, tp_btf, uprobes, USDT), like bpftrace -l",
     list_main},
    {"trace-pipe", "bpf_printk output (trace_pipe) with filters, taking no line from other readers",
     trace_pipe_main},
};

} // namespace coretrace::cli
