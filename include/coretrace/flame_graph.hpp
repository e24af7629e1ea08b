// Stacks with counts as folded text (one "root;...;leaf COUNT" line per stack, the input of every
// flame graph tool) and as a flame graph drawn here: one standalone SVG (no script, no external
// file) that a browser opens, each frame a rectangle as wide as its share of the samples, with a
// hover title ("function (N samples, P%)") and warm colours for user code, others for the kernel.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace coretrace::flame {

enum class FrameKind { user, kernel, other };

struct StackFrame {
    std::string name;
    FrameKind kind = FrameKind::other;
};

struct Stack {
    std::vector<StackFrame> frames; // root first (the outermost caller), leaf last
    std::uint64_t count = 0;
};

// "a;b;c 42\n" per stack, in the order given; ';' and newlines inside a name become '_'.
std::string folded(const std::vector<Stack>& stacks);

struct SvgOptions {
    std::string title = "Flame Graph";
    std::string count_name = "samples"; // "samples", "us" (offcputime), "bytes" (memleak)
    unsigned width = 1200;
};

// A flame graph of `stacks` (stacks with the same frames are merged).
void write_svg(std::ostream& out, const std::vector<Stack>& stacks, const SvgOptions& options);

} // namespace coretrace::flame
