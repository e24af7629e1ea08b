#include "event_pump.hpp"

#include <chrono>

namespace coretrace::exporter {

EventPump::EventPump(std::unique_ptr<EventStream> stream) : stream_(std::move(stream)) {
    thread_ = std::thread([this] {
        using namespace std::chrono_literals;
        while (!stopping_.load()) {
            stream_->poll(100ms);
            lost_.store(stream_->lost());
        }
    });
}

EventPump::~EventPump() {
    stopping_.store(true);
    thread_.join();
}

} // namespace coretrace::exporter
