// memleak: outstanding allocations by stack, libbpf-tools' memleak with its flags and text
// output, plus --json. User mode (-p PID, or -c COMMAND to start one): uprobes and uretprobes on
// the allocator functions of libc (or of -O OBJECT), resolved through the process's maps. Kernel
// mode (no -p, no -c): the kmem tracepoints (and, with -P, the percpu ones).
#include "memleak.skel.h"
#include "memleak.h"

#include "coretrace/clock.hpp"
#include "coretrace/error.hpp"
#include "coretrace/event_loop.hpp"
#include "coretrace/event_stream.hpp"
#include "coretrace/hooks.hpp"
#include "coretrace/link.hpp"
#include "coretrace/log.hpp"
#include "coretrace/map.hpp"
#include "coretrace/record_output.hpp"
#include "coretrace/run_loop.hpp"
#include "coretrace/skeleton.hpp"
#include "coretrace/stack_report.hpp"
#include "coretrace/stack_traces.hpp"
#include "coretrace/symbolizer.hpp"
#include "coretrace/system.hpp"
#include "coretrace/tool.hpp"
#include "coretrace/uprobe_target.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace coretrace;
using namespace std::chrono;

// Kernel mode: one event per tracepoint. The _node twins (kernels before 6.1) and the percpu
// ones (-P) are optional; libbpf-tools uses the same tracepoints.
constexpr std::string_view kmalloc_sections[] = {"tp/kmem/kmalloc"};
constexpr std::string_view kmalloc_node_sections[] = {"tp/kmem/kmalloc_node"};
constexpr std::string_view kfree_sections[] = {"tp/kmem/kfree"};
constexpr std::string_view cache_alloc_sections[] = {"tp/kmem/kmem_cache_alloc"};
constexpr std::string_view cache_alloc_node_sections[] = {"tp/kmem/kmem_cache_alloc_node"};
constexpr std::string_view cache_free_sections[] = {"tp/kmem/kmem_cache_free"};
constexpr std::string_view page_alloc_sections[] = {"tp/kmem/mm_page_alloc"};
constexpr std::string_view page_free_sections[] = {"tp/kmem/mm_page_free"};
constexpr std::string_view percpu_alloc_sections[] = {"tp/percpu/percpu_alloc_percpu"};
constexpr std::string_view percpu_free_sections[] = {"tp/percpu/percpu_free_percpu"};
constexpr hooks::EventHooks memleak_hooks[] = {
    {"kmalloc", kmalloc_sections},
    {"kmalloc_node", kmalloc_node_sections, true},
    {"kfree", kfree_sections},
    {"kmem_cache_alloc", cache_alloc_sections},
    {"kmem_cache_alloc_node", cache_alloc_node_sections, true},
    {"kmem_cache_free", cache_free_sections},
    {"mm_page_alloc", page_alloc_sections},
    {"mm_page_free", page_free_sections},
    {"percpu_alloc_percpu (-P)", percpu_alloc_sections, true},
    {"percpu_free_percpu (-P)", percpu_free_sections, true},
};
enum KernelEvent : std::size_t { kmalloc_node = 1, cache_alloc_node = 4, percpu_alloc = 8 };

// User mode: an allocator function, the BPF program at its entry, whether the object must
// have it (libbpf-tools' set; valloc, pvalloc and aligned_alloc may be missing).
struct UserProbe {
    std::string function;
    bool required;
    bpf_program* entry;
    bool has_return; // free and munmap have no return probe
};

struct Options {
    CommonOptions common;
    pid_t pid = 0;
    std::string command;
    bool trace_all = false, show_allocs = false, combined_only = false;
    bool wa_missing_free = false, percpu = false;
    long older_ms = 0;
    long sample_rate = 1;
    long top = 10;
    long min_size = 0, max_size = 0;
    std::string object = "libc.so.6";
    std::string symbols_prefix;
    long stack_storage_size = MEMLEAK_STACKS;
    long stack_depth = MEMLEAK_STACK_DEPTH;
    long interval_s = 5;
    long count = 0;

    bool user_mode() const { return pid > 0 || !command.empty(); }
};

std::uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

// -c COMMAND: a child that waits until the probes are attached, then runs COMMAND (split at
// white space, looked up in PATH). memleak ends when it exits; killed (SIGTERM) and reaped when
// memleak ends first.
class CommandChild {
  public:
    // With `json`, the command's stdout goes to stderr, so that stdout stays JSON Lines.
    CommandChild(const std::string& command, bool json) {
        std::istringstream in(command);
        std::vector<std::string> words;
        for (std::string word; in >> word;)
            words.push_back(word);
        if (words.empty())
            throw Error("-c: the command is empty");
        if (!runnable(words[0]))
            throw Error(fmt::format("-c: {}: no such program", words[0]));
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0)
            throw_system_error("pipe2", errno);
        pid_ = fork();
        if (pid_ < 0)
            throw_system_error("fork", errno);
        if (pid_ == 0) {
            close(fds[1]);
            char go = 0;
            // The parent closes its end without writing when it fails before attaching.
            if (read(fds[0], &go, 1) != 1)
                _exit(127);
            if (json)
                dup2(STDERR_FILENO, STDOUT_FILENO);
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, nullptr);
            std::vector<char*> argv;
            for (auto& word : words)
                argv.push_back(word.data());
            argv.push_back(nullptr);
            execvp(argv[0], argv.data());
            std::fprintf(stderr, "memleak: cannot run %s: %s\n", argv[0], std::strerror(errno));
            _exit(127);
        }
        close(fds[0]);
        go_fd_ = fds[1];
    }
    ~CommandChild() {
        if (go_fd_ >= 0)
            close(go_fd_);
        if (!reaped_) {
            kill(pid_, SIGTERM);
            int status = 0;
            waitpid(pid_, &status, 0);
        }
    }
    CommandChild(const CommandChild&) = delete;
    CommandChild& operator=(const CommandChild&) = delete;
    pid_t pid() const { return pid_; }
    // Lets the child exec its command and waits (up to 1 s) until it has, and until the loader
    // has mapped `library` (a file name) into it, so that its mappings can be read.
    void go(const std::string& library) {
        char byte = 1;
        if (write(go_fd_, &byte, 1) != 1)
            throw_system_error("starting the command", errno);
        close(go_fd_);
        go_fd_ = -1;
        const std::string self = exe_of("self");
        for (int i = 0; i < 100 && !exited(); i++) {
            if (exe_of(std::to_string(pid_)) != self && maps_mention(library))
                break;
            std::this_thread::sleep_for(10ms);
        }
    }
    bool exited() {
        if (reaped_)
            return true;
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_)
            reaped_ = true;
        return reaped_;
    }

  private:
    // An executable path, or a name found in PATH (what execvp will run).
    static bool runnable(const std::string& program) {
        if (program.find('/') != std::string::npos)
            return access(program.c_str(), X_OK) == 0;
        const char* path = std::getenv("PATH");
        std::istringstream dirs(path ? path : "/usr/bin:/bin");
        for (std::string dir; std::getline(dirs, dir, ':');)
            if (access(((dir.empty() ? "." : dir) + "/" + program).c_str(), X_OK) == 0)
                return true;
        return false;
    }
    bool maps_mention(const std::string& library) const {
        std::ifstream maps("/proc/" + std::to_string(pid_) + "/maps");
        for (std::string line; std::getline(maps, line);)
            if (line.ends_with("/" + library))
                return true;
        return false;
    }
    static std::string exe_of(const std::string& who) {
        char buf[4096];
        ssize_t n = readlink(("/proc/" + who + "/exe").c_str(), buf, sizeof(buf));
        return n > 0 ? std::string(buf, n) : std::string();
    }
    pid_t pid_ = -1;
    int go_fd_ = -1;
    bool reaped_ = false;
};

// The uprobes of user mode, resolved before anything loads (so that a missing object or
// function is one line, with nothing loaded). Functions at the same address (glibc's memalign
// and aligned_alloc) are probed once.
struct ResolvedProbe {
    UserProbe probe;
    uprobe::Target target;
};

std::vector<UserProbe> user_probes(const Options& options, memleak_bpf& bpf) {
    const std::string& p = options.symbols_prefix;
    // libbpf-tools requires mmap and munmap unless a prefix names another allocator.
    const bool libc_like = p.empty();
    return {
        {p + "malloc", true, bpf.progs.malloc_enter, true},
        {p + "calloc", true, bpf.progs.calloc_enter, true},
        {p + "realloc", true, bpf.progs.realloc_enter, true},
        {p + "mmap", libc_like, bpf.progs.mmap_enter, true},
        {p + "posix_memalign", true, bpf.progs.posix_memalign_enter, true},
        {p + "memalign", true, bpf.progs.memalign_enter, true},
        {p + "free", true, bpf.progs.free_enter, false},
        {p + "munmap", libc_like, bpf.progs.free_enter, false},
        {p + "valloc", false, bpf.progs.malloc_enter, true},
        {p + "pvalloc", false, bpf.progs.malloc_enter, true},
        {p + "aligned_alloc", false, bpf.progs.memalign_enter, true},
    };
}

std::vector<ResolvedProbe> resolve_probes(const Options& options, memleak_bpf& bpf,
                                          pid_t resolve_pid, pid_t attach_pid) {
    std::vector<ResolvedProbe> out;
    std::set<std::pair<std::string, std::uint64_t>> seen;
    for (const auto& probe : user_probes(options, bpf)) {
        uprobe::Spec spec{options.object, probe.function, true};
        uprobe::Target target;
        try {
            target = uprobe::resolve(spec, resolve_pid);
        } catch (const Error& e) {
            if (probe.required)
                throw;
            log::debug("memleak: {} not probed: {}", uprobe::describe(spec), e.what());
            continue;
        }
        target.pid = attach_pid;
        if (!seen.insert({target.path, target.offset}).second) {
            log::debug("memleak: {} is at the address of a function already probed",
                       uprobe::describe(spec));
            continue;
        }
        out.push_back({probe, std::move(target)});
    }
    return out;
}

// Every entry of a hash map that BPF programs change all the time (kernel mode: thousands of
// allocations and frees a second). Walking it with get_next_key restarts from the first key each
// time the previous one was deleted meanwhile, which makes a read take seconds or never end;
// batched lookups walk it bucket by bucket instead (Linux 5.6). get_next_key where they are
// missing.
template <typename K, typename V> std::vector<std::pair<K, V>> read_all(HashMap<K, V>& map) {
    constexpr std::uint32_t chunk = 4096;
    std::vector<std::pair<K, V>> out;
    std::vector<K> keys(chunk);
    std::vector<V> values(chunk);
    std::uint64_t in_batch = 0, out_batch = 0; // a bucket index for hash maps
    for (bool first = true;; first = false) {
        std::uint32_t count = chunk;
        const int err = bpf_map_lookup_batch(map.fd(), first ? nullptr : &in_batch, &out_batch,
                                             keys.data(), values.data(), &count, nullptr);
        const int error = err < 0 ? -err : 0;
        if (err < 0 && error != ENOENT && first &&
            (error == EINVAL || error == ENOTSUP || error == 524 /* ENOTSUPP */))
            return map.items(); // no batched lookups here
        if (err < 0 && error != ENOENT)
            throw_system_error(fmt::format("reading map {}", map.name()), error);
        for (std::uint32_t i = 0; i < count; i++)
            out.emplace_back(keys[i], values[i]);
        if (error == ENOENT)
            return out;
        in_batch = out_batch;
    }
}

// One stack's outstanding allocations, for the report.
struct StackTotal {
    std::int64_t stack_id = 0;
    std::uint64_t bytes = 0, allocations = 0;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> blocks; // -a: address, size
};

class Reporter {
  public:
    Reporter(const Options& options, memleak_bpf& bpf, pid_t pid, symbols::Symbolizer& symbolizer)
        : options_(options), bpf_(bpf), pid_(pid), symbolizer_(symbolizer),
          allocs_(bpf.maps.allocs), combined_(bpf.maps.combined_allocs) {}

    void report() {
        std::vector<StackTotal> totals;
        std::uint64_t stackless = 0, collisions = 0;
        if (options_.combined_only)
            collect_combined(totals, stackless, collisions);
        else
            collect(totals, stackless, collisions);
        std::sort(totals.begin(), totals.end(), [](const StackTotal& a, const StackTotal& b) {
            return a.bytes != b.bytes ? a.bytes > b.bytes : a.stack_id < b.stack_id;
        });
        const std::size_t shown = std::min<std::size_t>(totals.size(), options_.top);
        totals.resize(shown);
        if (options_.common.json)
            print_json(totals, stackless);
        else
            print_text(totals);
        if (stackless && !options_.common.json)
            std::fprintf(stderr,
                         "WARNING: %llu stack traces could not be displayed due to memory "
                         "shortage, including %llu caused by hash collisions. Consider increasing "
                         "--stack-storage-size.\n",
                         static_cast<unsigned long long>(stackless),
                         static_cast<unsigned long long>(collisions));
    }

  private:
    void collect(std::vector<StackTotal>& totals, std::uint64_t& stackless,
                 std::uint64_t& collisions) {
        const std::uint64_t now = monotonic_ns();
        const std::uint64_t min_age = options_.older_ms ? options_.older_ms * 1000000ull : 500;
        std::map<std::int64_t, StackTotal> by_stack;
        for (const auto& [address, info] : read_all(allocs_)) {
            if (info.timestamp_ns + min_age > now)
                continue; // younger than -o
            if (info.stack_id < 0) {
                // -EFAULT: no stack to take (a kernel thread's user stack); others: the stack
                // map was full (-ENOMEM) or held another stack under the same hash (-EEXIST).
                if (info.stack_id != -EFAULT) {
                    stackless++;
                    collisions += info.stack_id == -EEXIST;
                }
                continue;
            }
            auto& total = by_stack[info.stack_id];
            total.stack_id = info.stack_id;
            total.bytes += info.size;
            total.allocations++;
            if (options_.show_allocs)
                total.blocks.emplace_back(address, info.size);
        }
        for (auto& [id, total] : by_stack) {
            std::sort(total.blocks.begin(), total.blocks.end());
            totals.push_back(std::move(total));
        }
    }

    void collect_combined(std::vector<StackTotal>& totals, std::uint64_t& stackless,
                          std::uint64_t& collisions) {
        for (const auto& [stack_id, info] : read_all(combined_)) {
            if (!info.number_of_allocs)
                continue;
            if (stack_id < 0) {
                if (stack_id != -EFAULT) {
                    stackless += info.number_of_allocs;
                    if (stack_id == -EEXIST)
                        collisions += info.number_of_allocs;
                }
                continue;
            }
            StackTotal total;
            total.stack_id = stack_id;
            total.bytes = info.total_size;
            total.allocations = info.number_of_allocs;
            totals.push_back(std::move(total));
        }
    }

    std::vector<symbols::Frame> frames(std::int64_t stack_id) {
        const auto addresses = stacks::read(bpf_map__fd(bpf_.maps.stack_traces), stack_id);
        if (pid_ > 0)
            return symbolizer_.user_stack(pid_, addresses);
        auto out = symbolizer_.kernel_stack(addresses);
        // The tracepoint's own frames come first: the stack begins at the allocation.
        std::size_t skip = 0;
        while (skip < out.size() && out[skip].known() &&
               (stacks::is_tracing_frame(out[skip].function) ||
                out[skip].function == "trace_call_bpf"))
            skip++;
        out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(skip));
        return out;
    }

    void print_text(const std::vector<StackTotal>& totals) {
        std::string out = fmt::format("[{}] Top {} stacks with outstanding allocations:\n",
                                      clock_time(), totals.size());
        for (const auto& total : totals) {
            out += fmt::format("{} bytes in {} allocations from stack\n", total.bytes,
                               total.allocations);
            for (const auto& [address, size] : total.blocks)
                out += fmt::format("\taddr = {:#x} size = {}\n", address, size);
            std::size_t i = 0;
            for (const auto& frame : frames(total.stack_id)) {
                out += fmt::format("\t{} [<{:016x}>] ", i++, frame.address);
                if (!frame.known())
                    out += "<null sym>";
                else
                    out += fmt::format("{}+{:#x}", frame.function, frame.offset);
                if (!frame.module.empty())
                    out += fmt::format(" [{}]", frame.module);
                out += "\n";
            }
        }
        std::fputs(out.c_str(), stdout);
        std::fflush(stdout);
    }

    void print_json(const std::vector<StackTotal>& totals, std::uint64_t stackless) {
        auto stacks = nlohmann::json::array();
        for (const auto& total : totals) {
            nlohmann::json s{{"bytes", total.bytes},
                             {"allocations", total.allocations},
                             {"stack_id", total.stack_id},
                             {"frames", stacks::frames_json(frames(total.stack_id))}};
            if (options_.show_allocs) {
                auto blocks = nlohmann::json::array();
                for (const auto& [address, size] : total.blocks)
                    blocks.push_back({{"address", address}, {"size", size}});
                s["allocs"] = std::move(blocks);
            }
            stacks.push_back(std::move(s));
        }
        nlohmann::json line{
            {"time_unix_ns", unix_time_ns()},
            {"mode", pid_ > 0 ? "user" : "kernel"},
            {"stacks", std::move(stacks)},
            {"stacks_unrecorded", stackless},
            {"allocs_untracked", bpf_.bss->allocs_untracked + bpf_.bss->pendings_dropped}};
        if (pid_ > 0)
            line["pid"] = pid_;
        emit_json_line(line.dump());
    }

    const Options& options_;
    memleak_bpf& bpf_;
    pid_t pid_;
    symbols::Symbolizer& symbolizer_;
    HashMap<std::uint64_t, memleak_alloc> allocs_;
    HashMap<std::int64_t, memleak_combined> combined_;
};

// -t: each allocator call.
class Tracer {
  public:
    explicit Tracer(const Options& options) : options_(options) {}
    void print(const memleak_event& e) {
        if (options_.common.json) {
            write_json_record(nlohmann::json{{"time_unix_ns", clock_.unix_ns(e.ts_ns)},
                                             {"op", e.op == MEMLEAK_ALLOC ? "alloc" : "free"},
                                             {"pid", e.pid},
                                             {"tid", e.tid},
                                             {"address", e.address},
                                             {"size", e.size}});
            return;
        }
        if (e.op == MEMLEAK_ALLOC)
            std::printf("%-7u %-7u alloc exited, size = %llu, result = %llx\n", e.pid, e.tid,
                        static_cast<unsigned long long>(e.size),
                        static_cast<unsigned long long>(e.address));
        else
            std::printf("%-7u %-7u free entered, address = %llx, size = %llu\n", e.pid, e.tid,
                        static_cast<unsigned long long>(e.address),
                        static_cast<unsigned long long>(e.size));
    }

  private:
    const Options& options_;
    KernelClock clock_;
};

void choose_kernel_hooks(const Options& options, bpf_object* object) {
    for (std::size_t i = 0; i < std::size(memleak_hooks); i++) {
        const auto& event = memleak_hooks[i];
        const bool percpu = i >= percpu_alloc;
        if (percpu && !options.percpu) {
            hooks::skip(object, event);
            continue;
        }
        if (!event.optional || percpu) {
            hooks::prefer(object, event); // required (or asked for with -P): throws if none
            continue;
        }
        // The _node twins exist only before Linux 6.1.
        hooks::prefer_all(object, std::span(&event, 1), false);
    }
}

void skip_kernel_hooks(bpf_object* object) {
    for (const auto& event : memleak_hooks)
        hooks::skip(object, event);
}

int run(Options& options) {
    if (options.pid > 0 && !options.command.empty())
        throw Error("cannot specify both command and pid");
    if (options.max_size && options.min_size > options.max_size)
        throw Error("min size (-z) can't be greater than max_size (-Z)");
    sys::require_bpf_privileges();
    if (options.pid > 0)
        sys::require_process(options.pid);
    StopSignals stop;

    std::unique_ptr<CommandChild> child;
    auto skel = Skeleton<memleak_bpf>::open();
    std::vector<ResolvedProbe> probes;
    if (options.user_mode()) {
        // With -c the child has not run its command yet: find the object through the loader's
        // paths; with -p through the process's maps.
        probes =
            resolve_probes(options, *skel, options.command.empty() ? options.pid : -1, options.pid);
        if (!options.command.empty()) {
            child = std::make_unique<CommandChild>(options.command, options.common.json);
            options.pid = child->pid();
            for (auto& p : probes)
                p.target.pid = options.pid;
        }
        skip_kernel_hooks(skel.object());
    } else {
        choose_kernel_hooks(options, skel.object());
        for (auto* prog :
             {skel->progs.malloc_enter, skel->progs.calloc_enter, skel->progs.realloc_enter,
              skel->progs.memalign_enter, skel->progs.posix_memalign_enter, skel->progs.mmap_enter,
              skel->progs.alloc_exit, skel->progs.free_enter})
            bpf_program__set_autoload(prog, false);
    }
    skel->rodata->min_size = options.min_size;
    skel->rodata->max_size = options.max_size ? options.max_size : ~0ull;
    skel->rodata->page_size = static_cast<__u64>(sysconf(_SC_PAGESIZE));
    skel->rodata->sample_rate = options.sample_rate;
    skel->rodata->trace_all = options.trace_all;
    skel->rodata->user_stacks = options.user_mode();
    skel->rodata->wa_missing_free = options.wa_missing_free;
    skel->rodata->combined_only = options.combined_only;
    check_libbpf(bpf_map__set_value_size(skel->maps.stack_traces,
                                         static_cast<__u32>(options.stack_depth * sizeof(__u64))),
                 "sizing the stack map");
    check_libbpf(bpf_map__set_max_entries(skel->maps.stack_traces,
                                          static_cast<__u32>(options.stack_storage_size)),
                 "sizing the stack map");
    EventStream::prepare(skel,
                         options.trace_all ? ring_bytes_for_bursts : ring_bytes_for_sparse_events);
    skel.load();

    std::unique_ptr<EventStream> stream;
    std::optional<Tracer> tracer;
    if (options.trace_all) {
        tracer.emplace(options);
        stream = EventStream::of<memleak_event>(
            skel, [&tracer](const memleak_event& e) { tracer->print(e); });
    }

    std::vector<Link> links;
    symbols::Symbolizer symbolizer;
    if (options.user_mode()) {
        // The return probes first, so that no call is seen to begin whose return we miss.
        for (const auto& p : probes)
            if (p.probe.has_return)
                links.push_back(uprobe::attach(skel->progs.alloc_exit, p.target, true));
        for (const auto& p : probes)
            links.push_back(uprobe::attach(p.probe.entry, p.target, false));
        if (child && !probes.empty())
            child->go(std::filesystem::path(probes.front().target.path).filename());
        // Read its mappings now, so that its stacks still resolve after it exits.
        symbolizer.remember(options.pid);
        announce(options.common,
                 fmt::format("Attaching to pid {}, Hit Ctrl-C to end.", options.pid));
    } else {
        skel.attach();
        announce(options.common, "Attaching to kernel allocators, Hit Ctrl-C to end.");
    }

    Reporter reporter(options, *skel, options.user_mode() ? options.pid : 0, symbolizer);
    const auto interval = seconds(options.interval_s);
    auto next = steady_clock::now() + interval;
    long reports = 0;
    for (;;) {
        auto left = duration_cast<milliseconds>(next - steady_clock::now());
        bool stopped = false;
        if (left.count() > 0) {
            // Short slices: -t's records, and the end of -c's command, are seen promptly.
            auto slice = (stream || child) ? std::min(left, milliseconds(100)) : left;
            if (stream) {
                stream->poll(slice);
                std::fflush(stdout);
                stopped = stop.requested();
            } else {
                stopped = stop.wait_for(slice);
            }
        }
        const bool child_done = child && child->exited();
        if (!stopped && !child_done && steady_clock::now() < next)
            continue;
        if (stream)
            stream->drain();
        reporter.report();
        next += interval;
        if (stopped || child_done || (options.count && ++reports >= options.count))
            break;
    }
    links.clear();
    skel.detach();
    const std::uint64_t untracked = skel->bss->allocs_untracked + skel->bss->pendings_dropped;
    if (stream)
        finish_events(*stream, options.common, 0, recursion_misses(skel.object()));
    if (untracked)
        std::fprintf(stderr, "%llu allocations not tracked (too many outstanding)\n",
                     static_cast<unsigned long long>(untracked));
    return 0;
}

int memleak_main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Trace outstanding memory allocations\n\n"
        "USAGE: memleak [-h] [-c COMMAND] [-p PID] [-t] [-a] [-o AGE_MS] [-C] [-F]\n"
        "               [-s SAMPLE_RATE] [-T TOP_STACKS] [-z MIN_SIZE] [-Z MAX_SIZE]\n"
        "               [-O OBJECT] [-S PREFIX] [-P] [--json] [INTERVAL] [INTERVALS]\n\n"
        "User mode (-p or -c) probes the allocator functions of OBJECT (libc.so.6 by\n"
        "default): malloc, calloc, realloc, free, posix_memalign, memalign, aligned_alloc,\n"
        "valloc, pvalloc, mmap and munmap. Kernel mode (neither) uses the kmem tracepoints:\n"
        "kmalloc, kfree, kmem_cache_alloc, kmem_cache_free, mm_page_alloc and mm_page_free\n"
        "(and percpu_alloc_percpu, percpu_free_percpu with -P), as libbpf-tools does.\n\n"
        "EXAMPLES:\n"
        "./memleak -p $(pidof allocs)\n"
        "        Trace allocations and display a summary of 'leaked' (outstanding)\n"
        "        allocations every 5 seconds\n"
        "./memleak -p $(pidof allocs) -t\n"
        "        Trace allocations and display each individual allocator function call\n"
        "./memleak -ap $(pidof allocs) 10\n"
        "        Trace allocations and display allocated addresses, sizes, and stacks\n"
        "        every 10 seconds for outstanding allocations\n"
        "./memleak -c './allocs'\n"
        "        Run the specified command and trace its allocations\n"
        "./memleak\n"
        "        Trace allocations in kernel mode and display a summary of outstanding\n"
        "        allocations every 5 seconds\n"
        "./memleak -o 60000\n"
        "        Trace allocations in kernel mode and display a summary of outstanding\n"
        "        allocations that are at least one minute (60 seconds) old\n"
        "./memleak -s 5\n"
        "        Trace roughly every 5th allocation, to reduce overhead\n"
        "./memleak -p $(pidof allocs) -S je_\n"
        "        Trace a task that uses jemalloc",
        "memleak"};
    app.add_option("-p,--pid", options.pid,
                   "Process ID to trace; if not specified, trace kernel allocations")
        ->check(positive_integer);
    app.add_flag("-t,--trace", options.trace_all, "Print each allocation and free call");
    app.add_flag("-a,--show-allocs", options.show_allocs,
                 "Show allocation addresses and sizes as well as call stacks");
    app.add_option("-o,--older", options.older_ms,
                   "Prune allocations younger than this age in milliseconds")
        ->check(positive_integer);
    app.add_option("-c,--command", options.command, "Execute and trace the specified command");
    app.add_flag("-C,--combined-only", options.combined_only,
                 "Show combined allocation statistics only");
    app.add_flag("-F,--wa-missing-free", options.wa_missing_free,
                 "Workaround to alleviate misjudgments when free is missing (kernel mode)");
    app.add_option("-s,--sample-rate", options.sample_rate,
                   "Sample every N-th allocation to decrease the overhead")
        ->check(positive_integer);
    app.add_option("-T,--top", options.top,
                   "Display only this many top allocating stacks (by size)")
        ->check(positive_integer)
        ->capture_default_str();
    app.add_option("-z,--min-size", options.min_size,
                   "Capture only allocations larger than or equal to this size")
        ->check(positive_integer);
    app.add_option("-Z,--max-size", options.max_size,
                   "Capture only allocations smaller than or equal to this size")
        ->check(positive_integer);
    app.add_option("-O,--obj", options.object,
                   "Attach to allocator functions in the specified object")
        ->capture_default_str();
    app.add_option("-S,--symbols-prefix", options.symbols_prefix,
                   "Memory allocator symbols prefix (je_ for jemalloc)")
        ->check(bounded_text(15, "a prefix has at most 15 characters"));
    app.add_flag("-P,--percpu", options.percpu, "Trace percpu allocations (kernel mode)");
    app.add_option("--stack-storage-size", options.stack_storage_size,
                   "The number of unique stack traces that can be stored and displayed")
        ->check(positive_integer)
        ->capture_default_str();
    app.add_option("--perf-max-stack-depth", options.stack_depth,
                   "The limit for both kernel and user stack traces")
        ->check(CLI::Range(1L, 127L))
        ->capture_default_str();
    add_common_options(app, options.common, false);
    app.add_option("interval", options.interval_s,
                   "Interval in seconds to print outstanding allocations (default 5)")
        ->check(positive_integer);
    app.add_option("count", options.count, "Number of times to print the report before exiting")
        ->check(positive_integer);
    return run_tool(app, argc, argv, options.common, [&] { return run(options); });
}

} // namespace

CORETRACE_TOOL(memleak, "outstanding allocations by stack (user via uprobes, kernel via kmem)",
               memleak_main, memleak_hooks);
