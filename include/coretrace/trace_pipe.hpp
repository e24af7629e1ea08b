// bpf_printk output read back from tracefs without taking it from anyone else: a tracefs instance
// of this process's own, with the bpf_trace:bpf_trace_printk event enabled in it, whose
// trace_pipe only this process reads; the global trace_pipe (which consumes lines, and which
// Linux 6.5+ lets only one process open) only when the kernel cannot make instances.
#pragma once

#include "coretrace/fd.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace coretrace {

// One entry as trace_pipe prints it:
//   "<comm>-<tid> [(<tgid>)] [<cpu>] [<flags>] <seconds>: <event>: <message>"
// The message may span several lines (a bpf_printk format with "\n" in it).
struct TraceLine {
    std::string comm;          // the kernel's cached command name ("<...>" when unknown)
    pid_t pid = 0;             // thread ID of the task that wrote the entry
    std::optional<pid_t> tgid; // its process ID, when the buffer records them (record-tgid)
    int cpu = 0;
    std::string flags;     // irq/preemption flags ("...21"); "" when the buffer prints none
    std::string timestamp; // as printed, in seconds ("1349.727212")
    std::string event;     // "bpf_trace_printk"
    std::string message;
};

// Parses one entry (its first line is the header); nullopt when the text is not an entry header.
// The pid is the last "-NNN" before the " [CPU]" field, so a command name may hold spaces and
// dashes.
std::optional<TraceLine> parse_trace_line(std::string_view text);

// Names what the kernel could not: its command-name cache holds a few hundred tasks, so under
// process churn a line says "<...>" and has no process ID. Filled from /proc while the thread
// still exists; left as is otherwise.
void name_unknown_task(TraceLine& line);

class TracePipe {
  public:
    struct Options {
        // Record each entry's process ID too (the instance's record-tgid option; instance only).
        bool record_tgid = false;
    };

    // Makes the instance "coretrace-<pid>" (removing the leftovers of coretrace runs that were
    // killed), enables bpf_trace_printk in it and opens its trace_pipe, non-blocking. Falls back
    // to the global trace_pipe when instances cannot be made (or CORETRACE_DISABLE has
    // trace_instance). Throws a one-line Error when neither can be read (global one busy...).
    static TracePipe open(Options options);
    static TracePipe open() { return open(Options{}); }

    TracePipe(TracePipe&& other) noexcept;
    TracePipe& operator=(TracePipe&& other) noexcept;
    TracePipe(const TracePipe&) = delete;
    TracePipe& operator=(const TracePipe&) = delete;
    ~TracePipe(); // closes the pipe and removes the instance

    int fd() const { return fd_.get(); }
    // The trace_pipe file read.
    const std::string& path() const { return path_; }
    // True when reading the global trace_pipe: lines read are taken from every other reader.
    bool consuming() const { return instance_.empty(); }
    // Why no instance is used ("" when one is).
    const std::string& fallback_reason() const { return fallback_reason_; }
    // "" with an instance; else one line for stderr: why not, and that lines are taken from others.
    std::string fallback_note() const;
    // The instance directory ("" on the global trace_pipe).
    const std::string& instance() const { return instance_; }

    // Reads everything available now, without blocking, and calls `on_entry` for each complete
    // entry (without its final newline; a multi-line message stays in one entry). Returns the
    // number of entries.
    std::size_t read_available(const std::function<void(std::string_view entry)>& on_entry);

  private:
    TracePipe() = default;
    void close_and_remove() noexcept;

    UniqueFd fd_;
    std::string path_, instance_, fallback_reason_;
    std::string pending_; // bytes after the last complete line
    std::string entry_;   // the entry being gathered (header line plus continuation lines)
};

namespace trace_instances {
// The instance name prefix, "coretrace-".
inline constexpr std::string_view prefix = "coretrace-";
// Removes instances "coretrace-<pid>[-N]" whose process no longer exists; returns how many.
int remove_stale(const std::string& tracefs);
} // namespace trace_instances

} // namespace coretrace
