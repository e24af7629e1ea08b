// Counts an event collector keeps in user space, per label values (a command name, a port...),
// in a table of at most `cap` keys (the series cap): events of a new key that find the table
// full are counted apart, so the total is never lost. Safe to add to from the pump's thread
// while a scrape reads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace coretrace::exporter {

template <typename Key> class CappedCounts {
  public:
    explicit CappedCounts(std::size_t cap) : cap_(cap) {}

    void add(const Key& key, std::uint64_t n = 1) {
        std::lock_guard lock(mutex_);
        auto it = counts_.find(key);
        if (it != counts_.end())
            it->second += n;
        else if (counts_.size() < cap_)
            counts_.emplace(key, n);
        else
            over_cap_ += n;
    }

    struct Snapshot {
        std::vector<std::pair<Key, std::uint64_t>> rows; // largest count first
        std::uint64_t over_cap = 0;
    };
    Snapshot snapshot() const {
        Snapshot snapshot;
        {
            std::lock_guard lock(mutex_);
            snapshot.rows.assign(counts_.begin(), counts_.end());
            snapshot.over_cap = over_cap_;
        }
        std::stable_sort(snapshot.rows.begin(), snapshot.rows.end(),
                         [](const auto& a, const auto& b) { return a.second > b.second; });
        return snapshot;
    }

  private:
    std::size_t cap_;
    mutable std::mutex mutex_;
    std::map<Key, std::uint64_t> counts_;
    std::uint64_t over_cap_ = 0;
};

} // namespace coretrace::exporter
