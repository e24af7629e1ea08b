// coretrace's entry point: `coretrace TOOL ARGS...`, or a symlink named after a tool
// (busybox-style), or `coretrace --help` / `--version`.
#include "commands.hpp"
#include "coretrace/tool.hpp"

#include <cstdio>
#include <cstring>
#include <string_view>

namespace {

void print_usage(FILE* out) {
    std::fprintf(out,
                 "coretrace %s: CO-RE eBPF tracing tools\n\n"
                 "Usage: coretrace TOOL [OPTIONS...]   (or run a symlink named after TOOL)\n"
                 "       coretrace TOOL --help\n\nTools:\n",
                 CORETRACE_VERSION);
    auto row = [out](std::string_view name, std::string_view summary) {
        std::fprintf(out, "  %-14.*s %.*s\n", static_cast<int>(name.size()), name.data(),
                     static_cast<int>(summary.size()), summary.data());
    };
    for (const auto& tool : coretrace::tools())
        row(tool.name, tool.summary);
    std::fprintf(out, "\nWorkbench:\n");
    for (const auto& command : coretrace::cli::commands)
        row(command.name, command.summary);
}

std::string_view base_name(const char* path) {
    const char* slash = std::strrchr(path, '/');
    return slash ? slash + 1 : path;
}

} // namespace

int main(int argc, char** argv) {
    if (argc > 0)
        if (const auto* tool = coretrace::find_tool(base_name(argv[0])))
            return tool->main(argc, argv);
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    std::string_view command = argv[1];
    if (command == "-h" || command == "--help" || command == "help") {
        print_usage(stdout);
        return 0;
    }
    if (command == "-V" || command == "--version") {
        std::printf("coretrace %s\n", CORETRACE_VERSION);
        return 0;
    }
    if (const auto* tool = coretrace::find_tool(command))
        return tool->main(argc - 1, argv + 1);
    for (const auto& workbench : coretrace::cli::commands)
        if (workbench.name == command)
            return workbench.main(argc - 1, argv + 1);
    std::fprintf(stderr, "coretrace: unknown tool or command '%s' (coretrace --help lists them)\n",
                 argv[1]);
    return 2;
}
