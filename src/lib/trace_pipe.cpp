#include "coretrace/trace_pipe.hpp"

#include "coretrace/error.hpp"
#include "coretrace/features.hpp"
#include "coretrace/log.hpp"
#include "coretrace/system.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace coretrace {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

std::optional<long> to_number(std::string_view digits) {
    if (digits.empty() || digits.size() > 10)
        return std::nullopt;
    long value = 0;
    for (char c : digits) {
        if (!is_digit(c))
            return std::nullopt;
        value = value * 10 + (c - '0');
    }
    return value;
}

std::size_t skip_spaces(std::string_view s, std::size_t at) {
    while (at < s.size() && s[at] == ' ')
        at++;
    return at;
}

// After the "]" of the CPU field: "[flags] seconds: event: message". Fills those fields.
bool parse_tail(std::string_view s, TraceLine& out) {
    std::size_t at = skip_spaces(s, 0);
    auto token_end = [&](std::size_t from) {
        auto end = s.find(' ', from);
        return end == std::string_view::npos ? s.size() : end;
    };
    auto is_timestamp = [](std::string_view t) {
        if (t.size() < 2 || t.back() != ':')
            return false;
        t.remove_suffix(1);
        auto dot = t.find('.');
        auto whole = t.substr(0, dot);
        auto fraction = dot == std::string_view::npos ? std::string_view{} : t.substr(dot + 1);
        auto digits = [](std::string_view d) {
            for (char c : d)
                if (!is_digit(c))
                    return false;
            return true;
        };
        return !whole.empty() && digits(whole) && digits(fraction) &&
               (dot == std::string_view::npos || !fraction.empty());
    };
    std::size_t end = token_end(at);
    std::string_view token = s.substr(at, end - at);
    if (!is_timestamp(token)) {
        out.flags = std::string(token);
        at = skip_spaces(s, end);
        end = token_end(at);
        token = s.substr(at, end - at);
        if (!is_timestamp(token))
            return false;
    }
    out.timestamp = std::string(token.substr(0, token.size() - 1));
    at = skip_spaces(s, end);
    // The event (or, for the kernel's own trace_printk, the function): no spaces, then ':'.
    auto colon = s.find(':', at);
    if (colon == std::string_view::npos || colon == at ||
        s.substr(at, colon - at).find(' ') != std::string_view::npos)
        return false;
    out.event = std::string(s.substr(at, colon - at));
    at = colon + 1;
    if (at < s.size() && s[at] == ' ')
        at++;
    out.message = std::string(s.substr(at));
    return true;
}

// Before the " [" of the CPU field: "comm-tid" and, with record-tgid, " (tgid)".
bool parse_head(std::string_view s, TraceLine& out) {
    while (!s.empty() && s.back() == ' ')
        s.remove_suffix(1);
    if (!s.empty() && s.back() == ')') {
        auto open = s.rfind('(');
        if (open == std::string_view::npos)
            return false;
        auto inside = s.substr(open + 1, s.size() - open - 2);
        while (!inside.empty() && inside.front() == ' ')
            inside.remove_prefix(1);
        if (auto tgid = to_number(inside))
            out.tgid = static_cast<pid_t>(*tgid);
        else if (inside.empty() || inside.find_first_not_of('-') != std::string_view::npos)
            return false;
        s = s.substr(0, open);
        while (!s.empty() && s.back() == ' ')
            s.remove_suffix(1);
    }
    auto dash = s.rfind('-');
    if (dash == std::string_view::npos)
        return false;
    auto pid = to_number(s.substr(dash + 1));
    if (!pid)
        return false;
    auto comm = s.substr(0, dash);
    while (!comm.empty() && comm.front() == ' ')
        comm.remove_prefix(1);
    if (comm.empty())
        return false;
    out.comm = std::string(comm);
    out.pid = static_cast<pid_t>(*pid);
    return true;
}

std::string instances_dir(const std::string& tracefs) {
    return tracefs + "/instances";
}

// Writes `value` to a tracefs file; 0 or the errno.
int write_file(const std::string& path, std::string_view value) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd)
        return errno;
    if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
        return errno ? errno : EIO;
    return 0;
}

// rmdir of an instance, retried briefly: the kernel refuses it (EBUSY) while a file of it is
// still referenced.
int remove_instance(const std::string& path) {
    for (int attempt = 0;; attempt++) {
        if (::rmdir(path.c_str()) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY || attempt == 20)
            return errno;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

std::atomic<int> instances_made{0};

} // namespace

std::optional<TraceLine> parse_trace_line(std::string_view text) {
    auto first = text.substr(0, text.find('\n'));
    if (!first.empty() && first.back() == '\r')
        first.remove_suffix(1);
    // The leftmost " [CPU]" whose both sides parse: a message may hold " [N]" as well.
    for (auto open = first.find(" ["); open != std::string_view::npos;
         open = first.find(" [", open + 1)) {
        auto close = first.find(']', open + 2);
        if (close == std::string_view::npos)
            return std::nullopt;
        auto cpu = to_number(first.substr(open + 2, close - open - 2));
        if (!cpu)
            continue;
        TraceLine line;
        line.cpu = static_cast<int>(*cpu);
        if (!parse_head(first.substr(0, open), line) || !parse_tail(first.substr(close + 1), line))
            continue;
        if (first.size() < text.size())
            line.message += std::string(text.substr(first.size()));
        return line;
    }
    return std::nullopt;
}

int trace_instances::remove_stale(const std::string& tracefs) {
    std::string dir = instances_dir(tracefs);
    DIR* listing = ::opendir(dir.c_str());
    if (!listing)
        return 0;
    int removed = 0;
    while (const dirent* entry = ::readdir(listing)) {
        std::string_view name(entry->d_name);
        if (!name.starts_with(prefix))
            continue;
        auto rest = name.substr(prefix.size());
        auto pid = to_number(rest.substr(0, rest.find('-')));
        if (!pid || *pid <= 0 || ::access(fmt::format("/proc/{}", *pid).c_str(), F_OK) == 0)
            continue;
        // A live reader holds the instance (rmdir gets EBUSY), so only an abandoned one goes.
        if (::rmdir(fmt::format("{}/{}", dir, name).c_str()) == 0) {
            log::debug("removed tracefs instance {}/{} left by a coretrace run that is gone", dir,
                       name);
            removed++;
        }
    }
    ::closedir(listing);
    return removed;
}

TracePipe TracePipe::open(Options options) {
    const std::string tracefs = sys::require_tracefs();
    TracePipe pipe;

    // The instance: this process's own buffer, read by nobody else.
    auto make_instance = [&]() -> std::string {
        if (features::disabled_by_user("trace_instance"))
            return "trace_instance disabled by CORETRACE_DISABLE";
        const std::string dir = instances_dir(tracefs);
        if (::access(dir.c_str(), F_OK) != 0)
            return fmt::format("no {}: this kernel has no tracefs instances", dir);
        trace_instances::remove_stale(tracefs);
        const int serial = instances_made++;
        std::string path = fmt::format("{}/{}{}", dir, trace_instances::prefix, ::getpid());
        if (serial > 0)
            path += fmt::format("-{}", serial);
        int made = ::mkdir(path.c_str(), 0700);
        if (made != 0 && errno == EEXIST) {
            // Left by an earlier process that had our PID, and that was killed.
            remove_instance(path);
            made = ::mkdir(path.c_str(), 0700);
        }
        if (made != 0)
            return fmt::format("making tracefs instance {} failed: {}", path, std::strerror(errno));
        pipe.instance_ = path;
        if (int err = write_file(path + "/events/bpf_trace/bpf_trace_printk/enable", "1")) {
            std::string why = fmt::format("enabling bpf_trace:bpf_trace_printk in {} failed: {}",
                                          path, std::strerror(err));
            pipe.close_and_remove();
            return why;
        }
        if (options.record_tgid)
            write_file(path + "/options/record-tgid", "1");
        pipe.path_ = path + "/trace_pipe";
        pipe.fd_.reset(::open(pipe.path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
        if (!pipe.fd_) {
            std::string why =
                fmt::format("opening {} failed: {}", pipe.path_, std::strerror(errno));
            pipe.close_and_remove();
            return why;
        }
        return {};
    };
    std::string reason = make_instance();
    if (reason.empty()) {
        log::debug("reading bpf_printk lines from tracefs instance {} (other readers keep theirs)",
                   pipe.instance_);
        return pipe;
    }

    pipe.fallback_reason_ = reason;
    pipe.path_ = tracefs + "/trace_pipe";
    log::debug("no tracefs instance ({}): reading {}, which takes its lines from other readers",
               reason, pipe.path_);
    pipe.fd_.reset(::open(pipe.path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!pipe.fd_ && errno == EBUSY)
        throw Error(fmt::format("{} is being read by another process (Linux 6.5+ allows one "
                                "reader) and no tracefs instance could be made ({}): stop it "
                                "and retry",
                                pipe.path_, reason),
                    EBUSY);
    if (!pipe.fd_)
        throw_system_error("opening " + pipe.path_, errno);
    return pipe;
}

std::string TracePipe::fallback_note() const {
    if (!consuming())
        return {};
    return fmt::format("note: no tracefs instance ({}): reading {}, which takes these lines from "
                       "any other reader",
                       fallback_reason_, path_);
}

TracePipe::TracePipe(TracePipe&& other) noexcept
    : fd_(std::move(other.fd_)), path_(std::move(other.path_)),
      instance_(std::exchange(other.instance_, {})),
      fallback_reason_(std::move(other.fallback_reason_)), pending_(std::move(other.pending_)),
      entry_(std::move(other.entry_)) {}

TracePipe& TracePipe::operator=(TracePipe&& other) noexcept {
    if (this != &other) {
        close_and_remove();
        fd_ = std::move(other.fd_);
        path_ = std::move(other.path_);
        instance_ = std::exchange(other.instance_, {});
        fallback_reason_ = std::move(other.fallback_reason_);
        pending_ = std::move(other.pending_);
        entry_ = std::move(other.entry_);
    }
    return *this;
}

TracePipe::~TracePipe() {
    close_and_remove();
}

void TracePipe::close_and_remove() noexcept {
    fd_.reset();
    if (instance_.empty())
        return;
    if (int err = remove_instance(instance_))
        log::debug("removing tracefs instance {} failed: {}", instance_, std::strerror(err));
    instance_.clear();
}

std::size_t TracePipe::read_available(const std::function<void(std::string_view)>& on_entry) {
    std::size_t entries = 0;
    auto finish_entry = [&] {
        if (entry_.empty())
            return;
        on_entry(entry_);
        entry_.clear();
        entries++;
    };
    char chunk[65536];
    for (;;) {
        ssize_t n = ::read(fd_.get(), chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            throw_system_error("reading " + path_, errno);
        if (n <= 0)
            break;
        pending_.append(chunk, static_cast<std::size_t>(n));
        std::size_t start = 0, newline;
        while ((newline = pending_.find('\n', start)) != std::string::npos) {
            std::string_view line(pending_.data() + start, newline - start);
            start = newline + 1;
            // A line that is no entry header continues the entry before it (a message that
            // held a newline).
            if (parse_trace_line(line) || entry_.empty()) {
                finish_entry();
                entry_ = line;
            } else {
                entry_ += '\n';
                entry_ += line;
            }
        }
        pending_.erase(0, start);
    }
    // The buffer is empty now: an entry is never split between two reads, so it is complete.
    finish_entry();
    return entries;
}

void name_unknown_task(TraceLine& line) {
    if (line.comm == "<...>") {
        std::string comm = sys::read_first_line(fmt::format("/proc/{}/comm", line.pid));
        if (!comm.empty())
            line.comm = comm;
    }
    if (!line.tgid)
        line.tgid = sys::tgid_of(line.pid);
}

} // namespace coretrace
