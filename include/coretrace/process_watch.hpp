// The user-space half of bpf/include/coretrace/stacks.bpf.h's process notes: each process a
// stack tool sees for the first time is remembered by the symbolizer at once, so that its stacks
// still resolve after it exits. The notes come through the tool's event stream; a note lost (a
// full ring) only means that process is read later, at report time.
#pragma once

#include "coretrace/event_stream.hpp"
#include "coretrace/process_seen.h"
#include "coretrace/symbolizer.hpp"

#include <memory>

namespace coretrace {

class ProcessWatch {
  public:
    // For a loaded skeleton whose BPF side includes events.bpf.h and stacks.bpf.h.
    template <typename Skel>
    ProcessWatch(Skel& skel, symbols::Symbolizer& symbolizer)
        : stream_(
              EventStream::of<ct_process_seen>(skel, [&symbolizer](const ct_process_seen& seen) {
                  symbolizer.remember(static_cast<pid_t>(seen.tgid));
              })) {}

    EventStream& stream() { return *stream_; }

  private:
    std::unique_ptr<EventStream> stream_;
};

} // namespace coretrace
