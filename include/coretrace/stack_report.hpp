// A sampled or blocked stack as the stack tools print it (profile, offcputime, wakeuptime,
// memleak): its kernel and user halves read from the stack map and symbolized, then written as
// libbpf-tools' multi-line text, as a folded line or flame graph stack, or as JSON frames.
#pragma once

#include "coretrace/flame_graph.hpp"
#include "coretrace/symbolizer.hpp"

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace coretrace::stacks {

struct SymbolizedStack {
    std::vector<symbols::Frame> kernel; // innermost first, without the tracing path's frames
    std::vector<symbols::Frame> user;   // innermost first
    // The stack was taken but could not be stored (a full or colliding stack map): libbpf-tools'
    // "[Missed Kernel Stack]". A stack that does not exist (a kernel thread's user half) is not
    // missed.
    bool kernel_missed = false, user_missed = false;
};

// The stacks `kernel_id` and `user_id` (ids in the stack map `map_fd`, negative errno when
// bpf_get_stackid failed) of process `tgid`.
SymbolizedStack symbolize(symbols::Symbolizer& symbolizer, int map_fd, pid_t tgid,
                          std::int64_t kernel_id, std::int64_t user_id);

// libbpf-tools' layout: one "    name" line per frame, kernel frames first then user frames
// (innermost first), "    --" between them when `delimited`, "[Missed ... Stack]" for a lost
// half.
std::string text_frames(const SymbolizedStack& stack, bool delimited);

// Root first: `root` (the process, e.g. "comm"), user frames outermost first, then kernel
// frames; with `delimited` a "-" frame between the halves, with `annotate` kernel frames end in
// "_[k]" (as bcc's -a), for folded output.
flame::Stack flame_stack(const std::string& root, const SymbolizedStack& stack, std::uint64_t count,
                         bool delimited = false, bool annotate = false);

// One stack of a tool's aggregation and what it counted (samples, microseconds, bytes).
struct CountedStack {
    std::string comm;
    pid_t pid = 0;  // shown: the process (profile) or thread (offcputime)
    pid_t tgid = 0; // whose mappings the user stack is in
    std::int64_t kernel_id = -1, user_id = -1;
    std::uint64_t count = 0;
};

struct PrintOptions {
    bool json = false, folded = false, delimited = false, annotations = false;
    std::string svg;                   // a flame graph file to write too, "" for none
    std::string title = "Flame Graph"; // of the flame graph
    std::string unit = "samples";      // of the counts, in the flame graph's titles
    std::string count_field = "count"; // the JSON field of the count
};

// Prints `stacks`, biggest count first: libbpf-tools' text (frames, "    -  comm (pid)", the
// count), folded lines (-f), or one JSON object per stack; and writes the flame graph. Throws
// Error when the SVG cannot be written.
void print_stacks(std::vector<CountedStack> stacks, symbols::Symbolizer& symbolizer, int map_fd,
                  const PrintOptions& options);

// Says on stderr what the tool's tables could not keep: `dropped` rows ("12 samples not
// counted"; `what` names them) for want of room in a table of `storage` stacks, and the stacks
// the stack map lost (ct_stacks_missed). Nothing when both are zero.
void report_losses(std::uint64_t dropped, std::string_view what, std::uint64_t stacks_missed,
                   long storage);

// The symbolizer's counts, as the JSON summary's user_frames, user_frames_unknown, ...
void add_frame_counts(nlohmann::json& summary, const symbols::SymbolizerStats& stats);

// Refuses, before anything loads, an SVG path that cannot be written.
void check_svg_path(const std::string& path);

// [{"function": "f", "offset": 16, "module": "/usr/bin/x", "address": 94...}, ...], innermost
// first; an unknown frame has "function": "[unknown]".
nlohmann::json frames_json(const std::vector<symbols::Frame>& frames);

} // namespace coretrace::stacks
