// Stacks as the stack tools print them (see stack_report.hpp).
#include "coretrace/stack_report.hpp"

#include "coretrace/error.hpp"
#include "coretrace/stack_traces.hpp"
#include "coretrace/tool.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>

namespace coretrace::stacks {
namespace {

// Lost rather than absent: anything but "no such stack" (EFAULT) and "not asked for" (-1 is
// what the tools store for a half they skip, as EPERM would never come from the helper).
bool missed(std::int64_t id) {
    return id < 0 && id != -EFAULT && id != -1;
}

} // namespace

SymbolizedStack symbolize(symbols::Symbolizer& symbolizer, int map_fd, pid_t tgid,
                          std::int64_t kernel_id, std::int64_t user_id) {
    SymbolizedStack stack;
    stack.kernel_missed = missed(kernel_id);
    stack.user_missed = missed(user_id);
    auto kernel = symbolizer.kernel_stack(read(map_fd, kernel_id));
    // The tracing path (the BPF program, the tracepoint that ran it) sits innermost.
    std::size_t first = 0;
    while (first < kernel.size() && is_tracing_frame(kernel[first].function))
        first++;
    stack.kernel.assign(std::make_move_iterator(kernel.begin() + static_cast<long>(first)),
                        std::make_move_iterator(kernel.end()));
    stack.user = symbolizer.user_stack(tgid, read(map_fd, user_id));
    return stack;
}

std::string text_frames(const SymbolizedStack& stack, bool delimited) {
    std::string out;
    if (stack.kernel_missed)
        out += "    [Missed Kernel Stack]\n";
    for (const auto& frame : stack.kernel)
        out += "    " + frame.name() + "\n";
    const bool has_user = stack.user_missed || !stack.user.empty();
    if (delimited && has_user && (stack.kernel_missed || !stack.kernel.empty()))
        out += "    --\n";
    if (stack.user_missed)
        out += "    [Missed User Stack]\n";
    for (const auto& frame : stack.user)
        out += "    " + frame.name() + "\n";
    return out;
}

flame::Stack flame_stack(const std::string& root, const SymbolizedStack& stack, std::uint64_t count,
                         bool delimited, bool annotate) {
    flame::Stack out;
    out.count = count;
    out.frames.push_back({root, flame::FrameKind::other});
    if (stack.user_missed)
        out.frames.push_back({"[Missed User Stack]", flame::FrameKind::other});
    for (auto it = stack.user.rbegin(); it != stack.user.rend(); ++it)
        out.frames.push_back({it->name(), flame::FrameKind::user});
    if (delimited && (!stack.user.empty() || stack.user_missed) &&
        (!stack.kernel.empty() || stack.kernel_missed))
        out.frames.push_back({"-", flame::FrameKind::other});
    if (stack.kernel_missed)
        out.frames.push_back({"[Missed Kernel Stack]", flame::FrameKind::other});
    for (auto it = stack.kernel.rbegin(); it != stack.kernel.rend(); ++it)
        out.frames.push_back(
            {annotate ? it->name() + "_[k]" : it->name(), flame::FrameKind::kernel});
    return out;
}

nlohmann::json frames_json(const std::vector<symbols::Frame>& frames) {
    auto out = nlohmann::json::array();
    for (const auto& frame : frames) {
        nlohmann::json entry{{"function", frame.name()}, {"address", frame.address}};
        if (frame.known())
            entry["offset"] = frame.offset;
        if (!frame.module.empty())
            entry["module"] = frame.module;
        out.push_back(std::move(entry));
    }
    return out;
}

void report_losses(std::uint64_t dropped, std::string_view what, std::uint64_t stacks_missed,
                   long storage) {
    if (dropped)
        fmt::print(stderr,
                   "{} {} not counted: the table of stacks was full (raise "
                   "--stack-storage-size, now {})\n",
                   dropped, what, storage);
    if (stacks_missed)
        fmt::print(stderr,
                   "{} stacks lost: the stack map was full or two stacks collided (raise "
                   "--stack-storage-size, now {})\n",
                   stacks_missed, storage);
}

void add_frame_counts(nlohmann::json& summary, const symbols::SymbolizerStats& stats) {
    summary["user_frames"] = stats.user_frames;
    summary["user_frames_unknown"] = stats.user_unknown;
    summary["kernel_frames"] = stats.kernel_frames;
    summary["kernel_frames_unknown"] = stats.kernel_unknown;
}

void check_svg_path(const std::string& path) {
    if (path.empty())
        return;
    std::ofstream probe(path, std::ios::app);
    if (!probe)
        throw Error(fmt::format("--svg {}: cannot write there", path));
}

void print_stacks(std::vector<CountedStack> stacks, symbols::Symbolizer& symbolizer, int map_fd,
                  const PrintOptions& options) {
    std::stable_sort(
        stacks.begin(), stacks.end(),
        [](const CountedStack& a, const CountedStack& b) { return a.count > b.count; });
    std::vector<flame::Stack> flames;
    std::string text;
    for (const auto& counted : stacks) {
        auto stack =
            symbolize(symbolizer, map_fd, counted.tgid, counted.kernel_id, counted.user_id);
        if (options.json) {
            emit_json_line(nlohmann::json{{"pid", counted.pid},
                                          {"comm", counted.comm},
                                          {options.count_field, counted.count},
                                          {"kernel_stack", frames_json(stack.kernel)},
                                          {"user_stack", frames_json(stack.user)},
                                          {"kernel_stack_missed", stack.kernel_missed},
                                          {"user_stack_missed", stack.user_missed}}
                               .dump());
        } else if (!options.folded) {
            text += text_frames(stack, options.delimited);
            text += fmt::format("    {:<16} {} ({})\n        {}\n\n", "-", counted.comm,
                                counted.pid, counted.count);
        }
        if (options.folded || !options.svg.empty())
            flames.push_back(flame_stack(counted.comm, stack, counted.count, options.delimited,
                                         options.annotations));
    }
    if (options.folded)
        text = flame::folded(flames);
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    if (options.svg.empty())
        return;
    std::ofstream out(options.svg, std::ios::trunc);
    flame::write_svg(out, flames, {options.title, options.unit, 1200});
    if (!out)
        throw Error(fmt::format("--svg {}: could not write the flame graph", options.svg));
}

} // namespace coretrace::stacks
