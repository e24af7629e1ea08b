// `coretrace exporter`: runs coretrace-exporter, the dynamically linked binary installed beside
// this one (Debian's civetweb, its HTTP server, is a shared library only, which this static
// binary cannot link). The process keeps its PID, arguments and signals.
#include "commands.hpp"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

namespace coretrace::cli {

int exporter_main(int argc, char** argv) {
    char self[PATH_MAX];
    const ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) {
        std::fprintf(stderr, "exporter: cannot find this binary: %s\n", std::strerror(errno));
        return 1;
    }
    std::string path(self, static_cast<std::size_t>(length));
    path = path.substr(0, path.rfind('/') + 1) + "coretrace-exporter";
    std::vector<char*> args;
    args.push_back(const_cast<char*>(path.c_str()));
    for (int i = 1; i < argc; i++)
        args.push_back(argv[i]);
    args.push_back(nullptr);
    execv(path.c_str(), args.data());
    std::fprintf(stderr, "exporter: cannot run %s: %s (is coretrace-exporter installed?)\n",
                 path.c_str(), std::strerror(errno));
    return 1;
}

} // namespace coretrace::cli
