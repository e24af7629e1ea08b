// Typed views of BPF maps. Key and value sizes are checked once, when the view is made, so a
// mismatch between a tool's C++ types and its BPF declarations fails loudly at start-up.
#pragma once

#include "coretrace/error.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace coretrace {

namespace detail {
// Throws unless `map` has the expected type (one of `types`) and key/value sizes.
void check_map(const bpf_map* map, std::initializer_list<bpf_map_type> types, size_t key_size,
               size_t value_size);
int possible_cpus();
} // namespace detail

// A loaded map's fd, with the operations every map type shares.
class MapHandle {
  public:
    explicit MapHandle(const bpf_map* map) : map_(map) {}
    int fd() const { return bpf_map__fd(map_); }
    const char* name() const { return bpf_map__name(map_); }
    const bpf_map* raw() const { return map_; }

  protected:
    template <typename K> std::vector<K> collect_keys() const {
        std::vector<K> out;
        K key;
        const K* prev = nullptr;
        while (bpf_map_get_next_key(fd(), prev, &key) == 0) {
            out.push_back(key);
            prev = &out.back();
        }
        return out;
    }

    const bpf_map* map_;
};

// BPF_MAP_TYPE_HASH / LRU_HASH with fixed-size key K and value V.
template <typename K, typename V> class HashMap : public MapHandle {
    static_assert(std::is_trivially_copyable_v<K> && std::is_trivially_copyable_v<V>);

  public:
    explicit HashMap(const bpf_map* map) : MapHandle(map) {
        detail::check_map(map, {BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH}, sizeof(K), sizeof(V));
    }

    std::optional<V> lookup(const K& key) const {
        V value;
        if (bpf_map_lookup_elem(fd(), &key, &value) != 0)
            return std::nullopt;
        return value;
    }
    void update(const K& key, const V& value, std::uint64_t flags = BPF_ANY) {
        check_libbpf(bpf_map_update_elem(fd(), &key, &value, flags), "updating a map element");
    }
    bool erase(const K& key) { return bpf_map_delete_elem(fd(), &key) == 0; }

    // Keys present now. A snapshot: walking with get_next_key while deleting would restart.
    std::vector<K> keys() const { return collect_keys<K>(); }
    // Key/value pairs present now (entries deleted meanwhile are skipped).
    std::vector<std::pair<K, V>> items() const {
        std::vector<std::pair<K, V>> out;
        for (const K& key : keys())
            if (auto value = lookup(key))
                out.emplace_back(key, *value);
        return out;
    }
    // Key/value pairs present now, then exactly those read deleted: an interval tool's "read
    // and clear" (what arrives between the two is left for the next read).
    std::vector<std::pair<K, V>> take() {
        auto out = items();
        for (const auto& item : out)
            erase(item.first);
        return out;
    }
    void clear() {
        for (const K& key : keys())
            erase(key);
    }
};

// BPF_MAP_TYPE_ARRAY of V, indexed from 0.
template <typename V> class ArrayMap : public MapHandle {
    static_assert(std::is_trivially_copyable_v<V>);

  public:
    explicit ArrayMap(const bpf_map* map) : MapHandle(map) {
        detail::check_map(map, {BPF_MAP_TYPE_ARRAY}, sizeof(std::uint32_t), sizeof(V));
    }
    std::uint32_t size() const { return bpf_map__max_entries(map_); }
    V at(std::uint32_t index) const {
        V value;
        check_libbpf(bpf_map_lookup_elem(fd(), &index, &value), "reading an array element");
        return value;
    }
    void set(std::uint32_t index, const V& value) {
        check_libbpf(bpf_map_update_elem(fd(), &index, &value, BPF_ANY),
                     "writing an array element");
    }
    void clear() {
        V zero{};
        for (std::uint32_t i = 0; i < size(); i++)
            set(i, zero);
    }
};

// Per-CPU hash and array maps: one V per possible CPU. The kernel lays each CPU's value out
// rounded up to 8 bytes, which this view undoes.
template <typename K, typename V, bpf_map_type Type> class PerCpuMap : public MapHandle {
    static_assert(std::is_trivially_copyable_v<K> && std::is_trivially_copyable_v<V>);
    static constexpr size_t stride = (sizeof(V) + 7) / 8 * 8;

  public:
    explicit PerCpuMap(const bpf_map* map) : MapHandle(map), cpus_(detail::possible_cpus()) {
        detail::check_map(map, {Type}, sizeof(K), sizeof(V));
    }
    int cpus() const { return cpus_; }

    // One value per possible CPU, or nullopt when the key is absent.
    std::optional<std::vector<V>> lookup(const K& key) const {
        std::vector<unsigned char> raw(stride * cpus_);
        if (bpf_map_lookup_elem(fd(), &key, raw.data()) != 0)
            return std::nullopt;
        std::vector<V> values(cpus_);
        for (int cpu = 0; cpu < cpus_; cpu++)
            std::memcpy(&values[cpu], raw.data() + stride * cpu, sizeof(V));
        return values;
    }
    // Sets every CPU's copy to `value`.
    void update_all(const K& key, const V& value) {
        std::vector<unsigned char> raw(stride * cpus_);
        for (int cpu = 0; cpu < cpus_; cpu++)
            std::memcpy(raw.data() + stride * cpu, &value, sizeof(V));
        check_libbpf(bpf_map_update_elem(fd(), &key, raw.data(), BPF_ANY),
                     "updating a per-CPU map element");
    }
    std::vector<K> keys() const { return collect_keys<K>(); }

  private:
    int cpus_;
};

template <typename K, typename V> using PerCpuHashMap = PerCpuMap<K, V, BPF_MAP_TYPE_PERCPU_HASH>;
template <typename V> using PerCpuArrayMap = PerCpuMap<std::uint32_t, V, BPF_MAP_TYPE_PERCPU_ARRAY>;

} // namespace coretrace
