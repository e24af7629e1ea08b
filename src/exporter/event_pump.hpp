// An event tool's records, for a collector: the tool's skeleton (opened, configured, its hooks
// chosen by the tool's set-up) loaded with a ring buffer, each record handed to the collector on
// a thread of its own that drains the ring every 100 ms, and the records the ring had no room
// for counted. Destroying the pump stops its thread; declare it after what its callback uses,
// so that it goes first.
#pragma once

#include "coretrace/event_stream.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/task_filter.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <utility>

namespace coretrace::exporter {

class EventPump {
  public:
    // Loads `skel` with a ring of `ring_bytes`, the task filter's .rodata set and its map
    // installed, streams each Record to `on_record` (on the pump's thread) and attaches.
    template <typename Record, typename Bpf>
    static std::unique_ptr<EventPump> start(Skeleton<Bpf>& skel, const TaskFilter& filter,
                                            std::function<void(const Record&)> on_record,
                                            std::uint32_t ring_bytes) {
        filter.configure(skel->rodata);
        EventStream::prepare(skel, ring_bytes);
        skel.load();
        filter.install(skel->maps.ct_cgroup_filter);
        return attach<Record>(skel, std::move(on_record));
    }
    // The same for a tool without the library's task filter.
    template <typename Record, typename Bpf>
    static std::unique_ptr<EventPump> start(Skeleton<Bpf>& skel,
                                            std::function<void(const Record&)> on_record,
                                            std::uint32_t ring_bytes) {
        EventStream::prepare(skel, ring_bytes);
        skel.load();
        return attach<Record>(skel, std::move(on_record));
    }

    explicit EventPump(std::unique_ptr<EventStream> stream);
    ~EventPump();
    EventPump(const EventPump&) = delete;
    EventPump& operator=(const EventPump&) = delete;

    // Records the ring buffer had no room for, so far.
    std::uint64_t lost() const { return lost_.load(); }

  private:
    template <typename Record, typename Bpf>
    static std::unique_ptr<EventPump> attach(Skeleton<Bpf>& skel,
                                             std::function<void(const Record&)> on_record) {
        auto stream = EventStream::of<Record>(skel, std::move(on_record));
        skel.attach();
        return std::make_unique<EventPump>(std::move(stream));
    }

    std::unique_ptr<EventStream> stream_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> lost_{0};
    std::thread thread_;
};

} // namespace coretrace::exporter
