// bashreadline: the command lines typed into interactive bash shells, libbpf-tools' bashreadline
// with its flags and text output, plus --json, long lines cut cleanly and flagged, and
// lost records counted. A uretprobe on readline() in /bin/bash (Debian links readline into
// bash statically), or with -s in a shared readline library.
#include "bashreadline.skel.h"
#include "bashreadline.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"
#include "coretrace/uprobe_target.hpp"

#include <fmt/format.h>
#include <string>

namespace {

using namespace coretrace;
using namespace std::chrono;

constexpr const char* kDefaultBash = "/bin/bash";

struct Options {
    CommonOptions common;
    std::string shared; // -s: the library holding readline()
    long duration_s = 0;
};

class Printer {
  public:
    explicit Printer(const Options& options) : options_(options) {}

    void header() const {
        if (!options_.common.json) {
            std::printf("%-9s %-7s %s\n", "TIME", "PID", "COMMAND");
            std::fflush(stdout);
        }
    }

    void print(const bashreadline_event& event) {
        const std::string line = fixed_string(event.line);
        const std::int64_t unix_ns = clock_.unix_ns(event.ts_ns);
        if (options_.common.json) {
            write_json_record({{"ts_ns", unix_ns},
                               {"pid", event.pid},
                               {"uid", event.uid},
                               {"comm", fixed_string(event.comm)},
                               {"command", line},
                               {"truncated", event.truncated != 0}});
            return;
        }
        std::printf("%-9s %-7u %s%s\n", clock_time(unix_ns).c_str(), event.pid, line.c_str(),
                    event.truncated ? "..." : "");
    }

  private:
    const Options& options_;
    KernelClock clock_;
};

// Where readline() is: in the -s library; else in /bin/bash (readline linked in statically, as
// on Debian), or failing that in the shared libreadline a dynamically linked bash uses (as
// libbpf-tools finds it). A missing file, or one without readline(), is one line of error.
uprobe::Target find_readline(const Options& options) {
    uprobe::Spec spec;
    spec.function = "readline";
    spec.binary = options.shared.empty() ? kDefaultBash : options.shared;
    if (!options.shared.empty())
        return uprobe::resolve(spec);
    try {
        return uprobe::resolve(spec);
    } catch (const Error& in_bash) {
        spec.binary = "libreadline";
        try {
            return uprobe::resolve(spec);
        } catch (const Error&) {
            throw in_bash;
        }
    }
}

int run(Options& options) {
    sys::require_bpf_privileges();
    const uprobe::Target target = find_readline(options);
    StopSignals stop;

    auto skel = Skeleton<bashreadline_bpf>::open();
    skel->rodata->targ_bash_only = options.shared.empty();
    EventStream::prepare(skel);
    skel.load();
    // Owned by the skeleton, which detaches it when it dies (error or exit).
    skel->links.readline_return =
        uprobe::attach(skel->progs.readline_return, target, true).release();
    stream_loaded_events<bashreadline_event, Printer>(
        skel, stop, options.common,
        {fmt::format("Tracing readline() in {}... Hit Ctrl-C to end.", target.path),
         seconds(options.duration_s)},
        options);
    return 0;
}

int bashreadline_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Print entered bash commands from all running shells: a uretprobe on readline()\n"
        "in /bin/bash (processes named \"bash\" only), or with -s in a shared library that\n"
        "has readline() (every process calling it there).\n\n"
        "USAGE: bashreadline [-s <path/to/libreadline.so>] [-d DURATION] [--json]\n\n"
        "EXAMPLES:\n"
        "    bashreadline                                      # trace /bin/bash\n"
        "    bashreadline -s /usr/lib/x86_64-linux-gnu/libreadline.so.8\n"
        "    bashreadline --json -d 60   # one minute, one JSON object per line",
        "bashreadline"};
    app.add_option("-s,--shared", options.shared,
                   "The location of libreadline.so library (a path or a library name)");
    app.add_option("-d,--duration", options.duration_s, "Duration to trace, in seconds")
        ->check(positive_integer);
    add_common_options(app, options.common, false);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(bashreadline, "command lines typed into interactive bash shells", bashreadline_main);
