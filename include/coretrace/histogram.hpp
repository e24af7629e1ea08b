// Histogram text in the exact layout of libbpf-tools' print_log2_hist/print_linear_hist, which
// users of those tools read at a glance, and the same data as JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <string_view>

namespace coretrace {

// Slot i counts values in [2^i, 2^(i+1)) (slot 0 also counts 0). Empty string if all are zero.
std::string format_log2_hist(std::span<const std::uint32_t> slots, std::string_view unit);
// Slot i counts values in [base + i*step, base + (i+1)*step); only non-empty rows are printed.
std::string format_linear_hist(std::span<const std::uint32_t> slots, std::uint32_t base,
                               std::uint32_t step, std::string_view unit);

// [{"min_<unit>":0,"max_<unit>":1,"count":3}, ...] up to the last non-empty slot.
nlohmann::json log2_hist_json(std::span<const std::uint32_t> slots, std::string_view unit);
std::uint64_t hist_total(std::span<const std::uint32_t> slots);

// What begins each report of libbpf-tools' interval tools: a blank line, then with -T the time.
std::string report_heading(bool timestamp);

// One of the histograms of a report with one per process, thread, ... (cpudist, runqlat).
struct KeyedHist {
    std::uint32_t key;
    std::string comm;
    std::span<const std::uint32_t> slots;
};
// Each histogram, after a "\n<key_name> = <key> <comm>" line when key_name is not null (then
// there is a single histogram).
std::string format_keyed_log2_hists(std::span<const KeyedHist> hists, const char* key_name,
                                    std::string_view unit);
// [{"<key_name>":key,"comm":...,"count":N,"buckets":[...]}, ...]; no key nor comm without
// key_name.
nlohmann::json keyed_log2_hists_json(std::span<const KeyedHist> hists, const char* key_name,
                                     std::string_view unit);

} // namespace coretrace
