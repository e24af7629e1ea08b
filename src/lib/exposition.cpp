#include "coretrace/exposition.hpp"

#include "coretrace/error.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

namespace coretrace::prom {

namespace {

constexpr double infinity = std::numeric_limits<double>::infinity();

// The inclusive upper bound of slot k, in the histogram's own units.
double slot_bound(std::size_t k, SlotBound bound) {
    const double next = std::ldexp(1.0, static_cast<int>(k) + 1); // 2^(k+1)
    return bound == SlotBound::integer ? next - 1 : next;
}

// The middle of slot k's range, in the histogram's own units.
double slot_middle(std::size_t k, SlotBound bound) {
    if (k == 0)
        return bound == SlotBound::integer ? 0.5 : 1.0;
    const double low = std::ldexp(1.0, static_cast<int>(k));
    return bound == SlotBound::integer ? (low + (2 * low - 1)) / 2 : 1.5 * low;
}

bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Length of the valid UTF-8 sequence at the start of `s`, 0 if it is not one.
std::size_t utf8_sequence(std::string_view s) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char lead = byte(0);
    if (lead < 0x80)
        return 1;
    std::size_t length;
    unsigned min;
    if ((lead & 0xE0) == 0xC0)
        length = 2, min = 0x80;
    else if ((lead & 0xF0) == 0xE0)
        length = 3, min = 0x800;
    else if ((lead & 0xF8) == 0xF0)
        length = 4, min = 0x10000;
    else
        return 0;
    if (s.size() < length)
        return 0;
    unsigned code = lead & (0x7F >> length);
    for (std::size_t i = 1; i < length; i++) {
        if ((byte(i) & 0xC0) != 0x80)
            return 0;
        code = (code << 6) | (byte(i) & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        return 0;
    return length;
}

} // namespace

Histogram log2_histogram(std::span<const std::uint32_t> slots, SlotBound bound, double scale) {
    if (slots.empty())
        throw Error("a log2 histogram needs at least one slot");
    Histogram out;
    const std::size_t last = slots.size() - 1; // clamped: no finite bound
    for (std::size_t k = 0; k < slots.size(); k++) {
        out.count += slots[k];
        const double middle =
            k == last && k > 0 ? std::ldexp(1.0, static_cast<int>(k)) : slot_middle(k, bound);
        out.sum += static_cast<double>(slots[k]) * middle * scale;
        if (k < last)
            out.buckets.push_back({slot_bound(k, bound) * scale, out.count});
    }
    out.buckets.push_back({infinity, out.count});
    return out;
}

bool valid_metric_name(std::string_view name) {
    if (name.empty() || !(is_alpha(name[0]) || name[0] == ':'))
        return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return is_alpha(c) || is_digit(c) || c == ':'; });
}

bool valid_label_name(std::string_view name) {
    if (name.empty() || !is_alpha(name[0]) || name.starts_with("__"))
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) { return is_alpha(c) || is_digit(c); });
}

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    while (!value.empty()) {
        const std::size_t length = utf8_sequence(value);
        if (length == 0) {
            out += "\xEF\xBF\xBD"; // U+FFFD
            value.remove_prefix(1);
            continue;
        }
        if (value[0] == '\\')
            out += "\\\\";
        else if (value[0] == '"')
            out += "\\\"";
        else if (value[0] == '\n')
            out += "\\n";
        else
            out.append(value.substr(0, length));
        value.remove_prefix(length);
    }
    return out;
}

std::string escape_help(std::string_view help) {
    std::string out;
    for (char c : help) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string format_value(double value) {
    if (std::isnan(value))
        return "NaN";
    if (std::isinf(value))
        return value > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", value);
}

void Exposition::family(std::string_view name, MetricType type, std::string_view help) {
    if (!valid_metric_name(name))
        throw Error(fmt::format("invalid metric name '{}'", name));
    if (std::find(families_.begin(), families_.end(), name) != families_.end())
        throw Error(fmt::format("metric '{}' written twice", name));
    families_.emplace_back(name);
    current_ = name;
    type_ = type;
    series_ = 0;
    const char* type_name = type == MetricType::counter ? "counter"
                            : type == MetricType::gauge ? "gauge"
                                                        : "histogram";
    text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type_name);
}

bool Exposition::admit() {
    if (current_.empty())
        throw Error("a metric sample before its family");
    if (series_ >= max_series_) {
        dropped_[current_]++;
        return false;
    }
    series_++;
    return true;
}

void Exposition::write_labels(const Labels& labels, const Label* extra) {
    if (labels.empty() && !extra)
        return;
    text_ += '{';
    bool first = true;
    auto write = [&](const Label& label) {
        if (!valid_label_name(label.name))
            throw Error(
                fmt::format("invalid label name '{}' in metric '{}'", label.name, current_));
        if (!first)
            text_ += ',';
        first = false;
        text_ += label.name;
        text_ += "=\"";
        text_ += escape_label_value(label.value);
        text_ += '"';
    };
    for (const auto& label : labels)
        write(label);
    if (extra)
        write(*extra);
    text_ += '}';
}

bool Exposition::sample(const Labels& labels, double value) {
    if (type_ == MetricType::histogram)
        throw Error(fmt::format("metric '{}' is a histogram", current_));
    if (!admit())
        return false;
    text_ += current_;
    write_labels(labels, nullptr);
    text_ += ' ';
    text_ += format_value(value);
    text_ += '\n';
    return true;
}

bool Exposition::histogram(const Labels& labels, const Histogram& histogram) {
    if (type_ != MetricType::histogram)
        throw Error(fmt::format("metric '{}' is not a histogram", current_));
    for (const auto& label : labels)
        if (label.name == "le")
            throw Error(fmt::format("histogram '{}' cannot have an 'le' label", current_));
    if (!admit())
        return false;
    for (const auto& bucket : histogram.buckets) {
        const Label le{"le", format_value(bucket.le)};
        text_ += current_;
        text_ += "_bucket";
        write_labels(labels, &le);
        text_ += fmt::format(" {}\n", bucket.cumulative);
    }
    text_ += current_ + "_sum";
    write_labels(labels, nullptr);
    text_ += ' ' + format_value(histogram.sum) + '\n';
    text_ += current_ + "_count";
    write_labels(labels, nullptr);
    text_ += fmt::format(" {}\n", histogram.count);
    return true;
}

} // namespace coretrace::prom
