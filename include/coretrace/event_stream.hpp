// Per-event records from BPF to user space: a BPF ring buffer where the kernel has one, a perf
// buffer where it does not (the BPF side, bpf/include/coretrace/events.bpf.h, writes to
// whichever the map turned out to be). Built for throughput: the BPF side does not wake the
// reader per record, the reader drains on a short timer, and every record the BPF side could
// not reserve is counted, so loss is never silent.
#pragma once

#include <bpf/libbpf.h>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <linux/types.h>
#include <memory>
#include <span>

namespace coretrace {

// Ring buffer sizes. The kernel maps all of a ring into its reader at once, and its data twice
// (so that a record that wraps around reads as one piece): a ring's size counts twice in the
// tool's resident memory. Tools whose events come at syscall rates keep the large ring to ride
// out bursts; tools with one event per connection or bind take the small one (~10 000 records).
inline constexpr std::uint32_t ring_bytes_for_bursts = 1u << 24;
inline constexpr std::uint32_t ring_bytes_for_sparse_events = 1u << 20;

class EventStream {
  public:
    using Callback = std::function<void(std::span<const std::byte> record)>;

    // Call before the skeleton loads: turns `events` into a perf event array when the kernel
    // has no ring buffer, and sets the ring buffer's size (bytes, a power of two) and the fill
    // level that wakes the reader otherwise.
    static void prepare(bpf_map* events, bool* use_perfbuf, __u64* wakeup_bytes,
                        std::uint32_t ring_bytes);
    // The same for a skeleton whose BPF side includes coretrace/events.bpf.h.
    template <typename Skel>
    static void prepare(Skel& skel, std::uint32_t ring_bytes = ring_bytes_for_bursts) {
        prepare(skel->maps.ct_events, &skel->rodata->ct_events_use_perfbuf,
                &skel->rodata->ct_events_wakeup_bytes, ring_bytes);
    }

    // `dropped` points at the BPF global the BPF side increments when it cannot reserve.
    EventStream(bpf_map* events, const volatile __u64* dropped, Callback callback);
    ~EventStream();
    EventStream(const EventStream&) = delete;
    EventStream& operator=(const EventStream&) = delete;

    // Typed convenience: records shorter than sizeof(Record) are skipped.
    template <typename Record>
    static std::unique_ptr<EventStream> of(bpf_map* events, const volatile __u64* dropped,
                                           std::function<void(const Record&)> on_record);

    // The same for a skeleton whose BPF side includes coretrace/events.bpf.h.
    template <typename Record, typename Skel>
    static std::unique_ptr<EventStream> of(Skel& skel,
                                           std::function<void(const Record&)> on_record) {
        return of<Record>(skel->maps.ct_events, &skel->bss->ct_events_dropped,
                          std::move(on_record));
    }

    // Waits up to `timeout` for data, then delivers everything available. Returns the number
    // of records delivered; interrupted waits return 0.
    int poll(std::chrono::milliseconds timeout);
    // Delivers what is available now without waiting.
    int drain();
    // An fd that becomes readable when records are ready (for a caller's own poll loop).
    int fd() const;

    std::uint64_t delivered() const { return delivered_; }
    // Records lost: not reserved in the kernel, plus (perf buffer) samples the kernel dropped.
    std::uint64_t lost() const;
    bool uses_perf_buffer() const { return perf_ != nullptr; }

  private:
    void deliver(const void* data, std::size_t size);

    Callback callback_;
    const volatile __u64* dropped_;
    ring_buffer* ring_ = nullptr;
    perf_buffer* perf_ = nullptr;
    std::uint64_t delivered_ = 0;
    std::uint64_t perf_lost_ = 0;
};

template <typename Record>
std::unique_ptr<EventStream> EventStream::of(bpf_map* events, const volatile __u64* dropped,
                                             std::function<void(const Record&)> on_record) {
    return std::make_unique<EventStream>(
        events, dropped, [on_record = std::move(on_record)](std::span<const std::byte> bytes) {
            if (bytes.size() < sizeof(Record))
                return;
            Record record;
            std::memcpy(&record, bytes.data(), sizeof(Record));
            on_record(record);
        });
}

} // namespace coretrace
