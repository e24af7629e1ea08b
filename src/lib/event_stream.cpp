// Ring buffer consumer with a perf buffer fallback, both behind one poll/drain interface.
#include "coretrace/event_stream.hpp"

#include "coretrace/error.hpp"
#include "coretrace/features.hpp"

#include <cerrno>

namespace coretrace {
namespace {
constexpr std::size_t perf_pages_per_cpu = 64;
}

void EventStream::prepare(bpf_map* events, bool* use_perfbuf, __u64* wakeup_bytes,
                          std::uint32_t ring_bytes) {
    if (features::ring_buffer()) {
        check_libbpf(bpf_map__set_max_entries(events, ring_bytes), "sizing the ring buffer");
        *use_perfbuf = false;
        *wakeup_bytes = ring_bytes / 4;
        return;
    }
    // No BPF ring buffer (kernel < 5.8): the same map becomes a per-CPU perf event array,
    // sized by libbpf to the number of CPUs.
    check_libbpf(bpf_map__set_type(events, BPF_MAP_TYPE_PERF_EVENT_ARRAY), "retyping events map");
    check_libbpf(bpf_map__set_key_size(events, sizeof(int)), "retyping events map");
    check_libbpf(bpf_map__set_value_size(events, sizeof(int)), "retyping events map");
    check_libbpf(bpf_map__set_max_entries(events, 0), "retyping events map");
    *use_perfbuf = true;
}

EventStream::EventStream(bpf_map* events, const volatile __u64* dropped, Callback callback)
    : callback_(std::move(callback)), dropped_(dropped) {
    errno = 0;
    if (bpf_map__type(events) == BPF_MAP_TYPE_RINGBUF) {
        auto on_sample = [](void* self, void* data, std::size_t size) {
            static_cast<EventStream*>(self)->deliver(data, size);
            return 0;
        };
        ring_ = ring_buffer__new(bpf_map__fd(events), on_sample, this, nullptr);
        if (!ring_)
            throw_system_error("creating the ring buffer reader", errno ? errno : EINVAL);
        return;
    }
    auto on_sample = [](void* self, int, void* data, std::uint32_t size) {
        static_cast<EventStream*>(self)->deliver(data, size);
    };
    auto on_lost = [](void* self, int, unsigned long long count) {
        static_cast<EventStream*>(self)->perf_lost_ += count;
    };
    perf_ = perf_buffer__new(bpf_map__fd(events), perf_pages_per_cpu, on_sample, on_lost, this,
                             nullptr);
    if (!perf_)
        throw_system_error("creating the perf buffer reader", errno ? errno : EINVAL);
}

EventStream::~EventStream() {
    ring_buffer__free(ring_);
    perf_buffer__free(perf_);
}

void EventStream::deliver(const void* data, std::size_t size) {
    delivered_++;
    callback_(std::span(static_cast<const std::byte*>(data), size));
}

int EventStream::poll(std::chrono::milliseconds timeout) {
    auto before = delivered_;
    int ms = static_cast<int>(timeout.count());
    int err = ring_ ? ring_buffer__poll(ring_, ms) : perf_buffer__poll(perf_, ms);
    if (err < 0 && err != -EINTR)
        throw_system_error("reading events", -err);
    // The BPF side submits without waking us, so the wait may end by timeout with records
    // waiting: drain after every wait, which bounds delivery latency by the timeout.
    drain();
    return static_cast<int>(delivered_ - before);
}

int EventStream::drain() {
    auto before = delivered_;
    int err = ring_ ? ring_buffer__consume(ring_) : perf_buffer__consume(perf_);
    if (err < 0 && err != -EINTR)
        throw_system_error("reading events", -err);
    return static_cast<int>(delivered_ - before);
}

int EventStream::fd() const {
    return ring_ ? ring_buffer__epoll_fd(ring_) : perf_buffer__epoll_fd(perf_);
}

std::uint64_t EventStream::lost() const {
    return (dropped_ ? *dropped_ : 0) + perf_lost_;
}

} // namespace coretrace
