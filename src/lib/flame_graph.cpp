// Folded stacks and flame graphs (see flame_graph.hpp). The SVG is laid out here: stacks merged
// into a tree (children in name order, so the picture does not depend on sample order), each
// node a rectangle whose width is its share of all counts, the root at the bottom.
#include "coretrace/flame_graph.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <memory>

namespace coretrace::flame {
namespace {

std::string folded_name(std::string_view name) {
    std::string out(name);
    std::replace_if(
        out.begin(), out.end(), [](char c) { return c == ';' || c == '\n' || c == '\r'; }, '_');
    return out;
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        default:
            // Control bytes are not allowed in XML 1.0.
            out += static_cast<unsigned char>(c) < 0x20 && c != '\t' ? '?' : c;
        }
    }
    return out;
}

struct Node {
    std::string name;
    FrameKind kind = FrameKind::other;
    std::uint64_t total = 0;
    std::map<std::pair<std::string, FrameKind>, std::unique_ptr<Node>> children;
};

std::size_t depth_of(const Node& node) {
    std::size_t deepest = 0;
    for (const auto& [key, child] : node.children)
        deepest = std::max(deepest, depth_of(*child));
    return deepest + 1;
}

// A stable pseudo-random value in [0, 1) from a name, so a function keeps its colour.
double name_hash(std::string_view name) {
    std::uint32_t h = 2166136261u;
    for (unsigned char c : name)
        h = (h ^ c) * 16777619u;
    return static_cast<double>(h % 1000) / 1000.0;
}

std::string colour(const Node& node) {
    const double v = name_hash(node.name), w = name_hash(std::string(node.name) + "#");
    switch (node.kind) {
    case FrameKind::user: // warm: red to yellow
        return fmt::format("rgb({},{},{})", 205 + static_cast<int>(50 * w),
                           static_cast<int>(80 + 150 * v), static_cast<int>(40 * w));
    case FrameKind::kernel: // cool: blue to aqua
        return fmt::format("rgb({},{},{})", static_cast<int>(60 + 50 * w),
                           static_cast<int>(150 + 70 * v), 215 + static_cast<int>(40 * w));
    case FrameKind::other:
        break;
    }
    return fmt::format("rgb({0},{0},{1})", 180 + static_cast<int>(30 * v),
                       190 + static_cast<int>(30 * v));
}

struct Layout {
    double left, usable_width, frame_height, bottom;
    std::uint64_t total;
    const SvgOptions& options;
};

void draw(std::string& out, const Node& node, std::size_t depth, double x, const Layout& layout) {
    const double width =
        layout.usable_width * static_cast<double>(node.total) / static_cast<double>(layout.total);
    if (width < 0.1)
        return; // too narrow to see; its children are narrower still
    const double y = layout.bottom - static_cast<double>(depth + 1) * layout.frame_height;
    const double percent =
        100.0 * static_cast<double>(node.total) / static_cast<double>(layout.total);
    const std::string name = xml_escape(node.name);
    out += fmt::format("<g><title>{} ({} {}, {:.2f}%)</title>"
                       "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
                       "fill=\"{}\" rx=\"2\" ry=\"2\"/>",
                       name, node.total, xml_escape(layout.options.count_name), percent, x, y,
                       width, layout.frame_height - 1, colour(node));
    // About 7 px per character at font-size 12: the name, cut with ".." to fit, or nothing.
    const auto fits = static_cast<std::size_t>(std::max(0.0, (width - 6) / 7));
    if (fits >= 3) {
        std::string label = node.name;
        if (label.size() > fits)
            label = label.substr(0, fits - 2) + "..";
        out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>", x + 3,
                           y + layout.frame_height - 5, xml_escape(label));
    }
    out += "</g>\n";
    double child_x = x;
    for (const auto& [key, child] : node.children) {
        draw(out, *child, depth + 1, child_x, layout);
        child_x += layout.usable_width * static_cast<double>(child->total) /
                   static_cast<double>(layout.total);
    }
}

} // namespace

std::string folded(const std::vector<Stack>& stacks) {
    std::string out;
    for (const auto& stack : stacks) {
        if (stack.frames.empty() || stack.count == 0)
            continue;
        for (std::size_t i = 0; i < stack.frames.size(); i++) {
            if (i)
                out += ';';
            out += folded_name(stack.frames[i].name);
        }
        out += fmt::format(" {}\n", stack.count);
    }
    return out;
}

void write_svg(std::ostream& stream, const std::vector<Stack>& stacks, const SvgOptions& options) {
    Node root{"all", FrameKind::other, 0, {}};
    for (const auto& stack : stacks) {
        if (stack.count == 0)
            continue;
        root.total += stack.count;
        Node* node = &root;
        for (const auto& frame : stack.frames) {
            auto& child = node->children[{frame.name, frame.kind}];
            if (!child)
                child = std::make_unique<Node>(Node{frame.name, frame.kind, 0, {}});
            child->total += stack.count;
            node = child.get();
        }
    }
    const double frame_height = 16, top = 50, margin = 10;
    const std::size_t depth = depth_of(root);
    const double width = std::max(200u, options.width);
    const double height = top + static_cast<double>(depth) * frame_height + 30;
    std::string out;
    out += fmt::format(
        "<?xml version=\"1.0\" standalone=\"yes\"?>\n"
        "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.0f}\" "
        "height=\"{1:.0f}\" viewBox=\"0 0 {0:.0f} {1:.0f}\">\n"
        "<style>text {{ font-family: Verdana, sans-serif; font-size: 12px; fill: #000; }} "
        "g:hover rect {{ stroke: #000; stroke-width: 0.5; }}</style>\n"
        "<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#f8f8f0\"/>\n"
        "<text x=\"{2:.1f}\" y=\"24\" text-anchor=\"middle\" style=\"font-size: 17px\">{3}</text>\n"
        "<text x=\"{4:.1f}\" y=\"42\" style=\"font-size: 11px; fill: #555\">{5} {6} in all. "
        "Width: share of {6}. Warm: user code; blue: kernel; grey: process and other. "
        "Hover a frame for its count.</text>\n",
        width, height, width / 2, xml_escape(options.title), margin, root.total,
        xml_escape(options.count_name));
    if (root.total > 0) {
        const Layout layout{margin,      width - 2 * margin, frame_height,
                            height - 20, root.total,         options};
        draw(out, root, 0, margin, layout);
    }
    out += "</svg>\n";
    stream << out;
}

} // namespace coretrace::flame
