// Histogram rendering. The text layout is libbpf-tools' (widths, arrows, the 40-star bar, '+'
// for overflow), reproduced byte for byte because users and their scripts know it.
#include "coretrace/histogram.hpp"

#include "coretrace/clock.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace coretrace {
namespace {

void append_stars(std::string& out, std::uint64_t value, std::uint64_t max, int width) {
    auto stars = static_cast<int>(std::min(value, max) * width / max);
    out.append(stars, '*');
    out.append(width - stars, ' ');
    if (value > max)
        out += '+';
}

} // namespace

std::string format_log2_hist(std::span<const std::uint32_t> slots, std::string_view unit) {
    int last = -1;
    std::uint32_t max = 0;
    for (std::size_t i = 0; i < slots.size(); i++) {
        if (slots[i] > 0)
            last = static_cast<int>(i);
        max = std::max(max, slots[i]);
    }
    if (last < 0)
        return {};
    const bool narrow = last <= 32;
    const int bound_width = narrow ? 10 : 20, stars = narrow ? 40 : 20;
    std::string out = fmt::format("{:>{}}{:<{}} : count    distribution\n", "", narrow ? 5 : 15,
                                  unit, narrow ? 19 : 29);
    for (int i = 0; i <= last; i++) {
        unsigned long long low = (1ULL << (i + 1)) >> 1, high = (1ULL << (i + 1)) - 1;
        if (low == high)
            low -= 1;
        out += fmt::format("{:>{}} -> {:<{}} : {:<8} |", low, bound_width, high, bound_width,
                           slots[i]);
        append_stars(out, slots[i], max, stars);
        out += "|\n";
    }
    return out;
}

std::string format_linear_hist(std::span<const std::uint32_t> slots, std::uint32_t base,
                               std::uint32_t step, std::string_view unit) {
    int first = -1, last = -1;
    std::uint32_t max = 0;
    for (std::size_t i = 0; i < slots.size(); i++) {
        if (slots[i] > 0) {
            last = static_cast<int>(i);
            if (first < 0)
                first = last;
        }
        max = std::max(max, slots[i]);
    }
    if (last < 0)
        return {};
    std::string out = fmt::format("     {:<13} : count     distribution\n", unit);
    for (int i = first; i <= last; i++) {
        if (slots[i] == 0)
            continue;
        out += fmt::format("        {:<10} : {:<8} |", base + i * step, slots[i]);
        append_stars(out, slots[i], max, 40);
        out += "|\n";
    }
    return out;
}

nlohmann::json log2_hist_json(std::span<const std::uint32_t> slots, std::string_view unit) {
    auto buckets = nlohmann::json::array();
    std::size_t last = 0;
    for (std::size_t i = 0; i < slots.size(); i++)
        if (slots[i])
            last = i + 1;
    for (std::size_t i = 0; i < last; i++) {
        std::uint64_t low = i == 0 ? 0 : 1ULL << i, high = (1ULL << (i + 1)) - 1;
        buckets.push_back({{fmt::format("min_{}", unit), low},
                           {fmt::format("max_{}", unit), high},
                           {"count", slots[i]}});
    }
    return buckets;
}

std::uint64_t hist_total(std::span<const std::uint32_t> slots) {
    std::uint64_t total = 0;
    for (auto v : slots)
        total += v;
    return total;
}

std::string report_heading(bool timestamp) {
    std::string out = "\n";
    if (timestamp)
        out += fmt::format("{:<8}\n", clock_time());
    return out;
}

std::string format_keyed_log2_hists(std::span<const KeyedHist> hists, const char* key_name,
                                    std::string_view unit) {
    std::string out;
    for (const KeyedHist& hist : hists) {
        if (key_name)
            out += fmt::format("\n{} = {} {}\n", key_name, hist.key, hist.comm);
        out += format_log2_hist(hist.slots, unit);
    }
    return out;
}

nlohmann::json keyed_log2_hists_json(std::span<const KeyedHist> hists, const char* key_name,
                                     std::string_view unit) {
    auto out = nlohmann::json::array();
    for (const KeyedHist& hist : hists) {
        nlohmann::json entry;
        if (key_name) {
            entry[key_name] = hist.key;
            entry["comm"] = hist.comm;
        }
        entry["count"] = hist_total(hist.slots);
        entry["buckets"] = log2_hist_json(hist.slots, unit);
        out.push_back(std::move(entry));
    }
    return out;
}

} // namespace coretrace
