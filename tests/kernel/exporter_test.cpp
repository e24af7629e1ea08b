// `coretrace exporter`: started on a free loopback port, scraped over a plain socket while known
// work happens, its counts checked against that work, and nothing of it left after it ends.
#include "block_workload.hpp"
#include "bpf_objects.hpp"
#include "scratch_dir.hpp"
#include "subprocess.hpp"

#include <algorithm>
#include <cctype>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <atomic>
#include <sstream>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <string>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace coretrace::test;

namespace {

struct Response {
    int status = 0;
    std::string body;
};

// A TCP connection to 127.0.0.1:port, or -1.
int connect_loopback(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// One HTTP/1.0 request to 127.0.0.1:port, read to the end (5 s at most).
Response http_request(int port, const std::string& request) {
    Response response;
    const int fd = connect_loopback(port);
    if (fd < 0)
        return response;
    (void)!write(fd, request.data(), request.size());
    std::string raw;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        char buffer[65536];
        const ssize_t n = read(fd, buffer, sizeof buffer);
        if (n <= 0)
            break;
        raw.append(buffer, static_cast<std::size_t>(n));
    }
    close(fd);
    std::sscanf(raw.c_str(), "HTTP/%*s %d", &response.status);
    const auto body = raw.find("\r\n\r\n");
    if (body != std::string::npos)
        response.body = raw.substr(body + 4);
    return response;
}

Response scrape(int port) {
    return http_request(port, "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
}

// Sample lines of an exposition: the series as written (name and labels) -> value.
std::map<std::string, double> samples_of(const std::string& text) {
    std::map<std::string, double> samples;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string::npos)
            end = text.size();
        const std::string line = text.substr(start, end - start);
        start = end + 1;
        if (line.empty() || line[0] == '#')
            continue;
        const auto space = line.rfind(' ');
        if (space == std::string::npos)
            continue;
        samples[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
    }
    return samples;
}

double value_of(const std::map<std::string, double>& samples, const std::string& series) {
    auto it = samples.find(series);
    return it == samples.end() ? -1 : it->second;
}

// `coretrace exporter --listen 127.0.0.1:0 ARGS...` (without --listen: `any_port` false), up
// and serving; its port.
class Exporter {
  public:
    explicit Exporter(const std::vector<std::string>& tools, bool any_port = true)
        : process_(arguments(tools, any_port)) {
        if (!process_.wait_for("Hit Ctrl-C", 30s))
            return;
        const std::string& err = process_.err();
        const auto at = err.find("http://127.0.0.1:");
        if (at != std::string::npos)
            port_ = std::atoi(err.c_str() + at + std::strlen("http://127.0.0.1:"));
    }
    int port() const { return port_; }
    Subprocess& process() { return process_; }

  private:
    static std::vector<std::string> arguments(const std::vector<std::string>& tools,
                                              bool any_port) {
        std::vector<std::string> argv{coretrace_binary(), "exporter"};
        if (any_port) {
            argv.push_back("--listen");
            argv.push_back("127.0.0.1:0");
        }
        argv.insert(argv.end(), tools.begin(), tools.end());
        return argv;
    }

    Subprocess process_;
    int port_ = 0;
};

// A TCP port on loopback that nothing listens on now.
int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    close(fd);
    return ntohs(address.sin_port);
}

// The path of `name` in a $PATH directory, or "".
std::string on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        auto end = dirs.find(':', start);
        if (end == std::string::npos)
            end = dirs.size();
        const std::string candidate = dirs.substr(start, end - start) + "/" + name;
        if (access(candidate.c_str(), X_OK) == 0)
            return candidate;
        start = end + 1;
    }
    return "";
}

std::string url_encoded(const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '_' || c == '-' || c == '.')
            out += static_cast<char>(c);
        else {
            char hex[4];
            std::snprintf(hex, sizeof hex, "%%%02X", c);
            out += hex;
        }
    }
    return out;
}

// An instant query to Prometheus' HTTP API: the first result's value, or -1.
double prometheus_query(int port, const std::string& query) {
    const Response response =
        http_request(port, "GET /api/v1/query?query=" + url_encoded(query) + " HTTP/1.0\r\n\r\n");
    if (response.status != 200)
        return -1;
    const auto json = nlohmann::json::parse(response.body, nullptr, false);
    if (json.is_discarded() || json.value("status", "") != "success")
        return -1;
    const auto& result = json["data"]["result"];
    if (!result.is_array() || result.empty())
        return -1;
    return std::stod(result[0]["value"][1].get<std::string>());
}

// Runs `path` (argv[0] = path) n times, one after the other, each to its exit.
void exec_times(const std::string& path, int n) {
    for (int i = 0; i < n; i++) {
        const pid_t pid = fork();
        if (pid == 0) {
            execl(path.c_str(), path.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        int status = 0;
        waitpid(pid, &status, 0);
    }
}

// The exit status of a promtool check of `text`, or -1 without promtool.
int promtool_check(const std::string& text) {
    if (std::system("command -v promtool >/dev/null 2>&1") != 0)
        return -1;
    const std::string path = "/tmp/coretrace-exporter-test-" + std::to_string(getpid());
    std::ofstream(path) << text;
    const int status = std::system(("promtool check metrics < " + path + " >&2").c_str());
    unlink(path.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

// A loopback TCP server on a free port: accepts `sessions` clients one after the other, reads
// what each sends to its end, answers `reply` bytes and closes.
class EchoServer {
  public:
    EchoServer(int sessions, std::size_t reply) {
        fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
        listen(fd_, 16);
        socklen_t length = sizeof address;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
        port_ = ntohs(address.sin_port);
        thread_ = std::thread([this, sessions, reply] {
            const std::string data(reply, 'r');
            for (int i = 0; i < sessions; i++) {
                const int client = accept(fd_, nullptr, nullptr);
                if (client < 0)
                    return;
                char buffer[4096];
                while (read(client, buffer, sizeof buffer) > 0) {
                }
                (void)!write(client, data.data(), data.size());
                close(client);
            }
        });
    }
    ~EchoServer() {
        thread_.join();
        close(fd_);
    }
    int port() const { return port_; }

  private:
    int fd_ = -1;
    int port_ = 0;
    std::thread thread_;
};

// One client session with an EchoServer: connects, sends `send` bytes, shuts its side down,
// reads the reply to its end; the bytes read.
std::size_t echo_session(int port, std::size_t send) {
    const int fd = connect_loopback(port);
    if (fd < 0)
        return 0;
    const std::string data(send, 's');
    (void)!write(fd, data.data(), data.size());
    shutdown(fd, SHUT_WR);
    std::size_t received = 0;
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0)
        received += static_cast<std::size_t>(n);
    close(fd);
    return received;
}

// Scrapes until `series` has `value` (or 3 s passed); its last value.
double wait_for_value(int port, const std::string& series, double value) {
    double seen = -1;
    for (int attempt = 0; attempt < 30 && seen != value; attempt++) {
        seen = value_of(samples_of(scrape(port).body), series);
        if (seen != value)
            std::this_thread::sleep_for(100ms);
    }
    return seen;
}

// The count of one line of /proc/interrupts (the handler `name`, summed over CPUs), or -1.
long long proc_interrupts(const std::string& name) {
    std::ifstream in("/proc/interrupts");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::vector<std::string> words;
        for (std::string word; fields >> word;)
            words.push_back(word);
        if (words.size() < 3 || words.back() != name)
            continue;
        long long total = 0;
        for (std::size_t i = 1; i < words.size() && std::isdigit(words[i][0]); i++)
            total += std::stoll(words[i]);
        return total;
    }
    return -1;
}

// The runs of one softirq vector (the row of /proc/softirqs, upper case), summed over CPUs.
long long proc_softirqs(const std::string& vector) {
    std::ifstream in("/proc/softirqs");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string name;
        fields >> name;
        if (name != vector + ":")
            continue;
        long long total = 0;
        for (long long n; fields >> n;)
            total += n;
        return total;
    }
    return -1;
}

// A cgroup v1 memory cgroup of this test's own, limited to `limit` bytes (and no swap).
class MemoryCgroup {
  public:
    explicit MemoryCgroup(std::size_t limit) {
        path_ = "/sys/fs/cgroup/memory/coretrace-exporter-" + std::to_string(getpid());
        if (!std::filesystem::create_directory(path_))
            return;
        std::ofstream(path_ / "memory.limit_in_bytes") << limit << std::endl;
        if (std::filesystem::exists(path_ / "memory.memsw.limit_in_bytes"))
            std::ofstream(path_ / "memory.memsw.limit_in_bytes") << limit << std::endl;
        std::ofstream(path_ / "memory.swappiness") << 0 << std::endl;
        ok_ = true;
    }
    ~MemoryCgroup() {
        for (int i = 0; i < 100 && rmdir(path_.c_str()) != 0 && errno == EBUSY; i++)
            usleep(20000);
    }
    bool ok() const { return ok_; }
    void add(pid_t pid) const { std::ofstream(path_ / "cgroup.procs") << pid << std::endl; }

  private:
    std::filesystem::path path_;
    bool ok_ = false;
};

// A cgroup v2 directory of this test's own under /sys/fs/cgroup/unified, or none.
class UnifiedCgroup {
  public:
    explicit UnifiedCgroup(const std::string& name) {
        const std::filesystem::path unified = "/sys/fs/cgroup/unified";
        if (!std::filesystem::exists(unified / "cgroup.procs"))
            return;
        path_ = unified / (name + "-" + std::to_string(getpid()));
        std::filesystem::create_directory(path_);
    }
    ~UnifiedCgroup() {
        if (!path_.empty())
            rmdir(path_.c_str());
    }
    bool ok() const { return !path_.empty(); }
    const std::filesystem::path& path() const { return path_; }
    void add(pid_t pid) const { std::ofstream(path_ / "cgroup.procs") << pid << std::endl; }

  private:
    std::filesystem::path path_;
};

// VmRSS of a process in kB, from /proc/PID/status.
long rss_kb(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::atol(line.c_str() + 6);
    return -1;
}

TEST(Exporter, CountsEachExecOfACommandExactly) {
    // A command name nobody else runs: a symlink to /bin/true named after this test's PID (the
    // new comm is the file name's first 15 bytes).
    const std::string comm = "ctexp" + std::to_string(getpid());
    const std::string link = "/tmp/" + comm;
    unlink(link.c_str());
    ASSERT_EQ(symlink("/bin/true", link.c_str()), 0);
    Exporter exporter({"execsnoop"});
    ASSERT_NE(exporter.port(), 0) << exporter.process().err();

    constexpr int execs = 12;
    exec_times(link, execs);
    // The ring buffer is drained every 100 ms: wait for the count to settle.
    const std::string series = "coretrace_execsnoop_execs_total{comm=\"" + comm + "\"}";
    double counted = -1;
    for (int attempt = 0; attempt < 30 && counted < execs; attempt++) {
        std::this_thread::sleep_for(100ms);
        Response response = scrape(exporter.port());
        ASSERT_EQ(response.status, 200);
        counted = value_of(samples_of(response.body), series);
    }
    unlink(link.c_str());
    EXPECT_EQ(counted, execs);
    // Nothing more arrives later.
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(value_of(samples_of(scrape(exporter.port()).body), series), execs);
    exporter.process().signal(SIGINT);
    EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
}

TEST(Exporter, CountsAKnownSystemCall) {
    Exporter exporter({"syscount"});
    ASSERT_NE(exporter.port(), 0) << exporter.process().err();
    // getppid: cheap, and rare enough on this machine; the count is system-wide, so at least
    // the child's calls.
    const std::string series = "coretrace_syscount_calls_total{syscall=\"getppid\"}";
    const double before = std::max(0.0, value_of(samples_of(scrape(exporter.port()).body), series));
    constexpr int calls = 5000;
    Child child(
        [] {
            for (int i = 0; i < calls; i++)
                syscall(SYS_getppid);
        },
        true);
    child.go();
    ASSERT_TRUE(child.wait_done());
    EXPECT_EQ(child.reap(), 0);
    const double after = value_of(samples_of(scrape(exporter.port()).body), series);
    EXPECT_GE(after - before, calls);
    exporter.process().signal(SIGINT);
    EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
}

TEST(Exporter, HistogramsAreCumulativeWithTheirCountUnderInf) {
    Exporter exporter({"cpudist", "runqlat", "biolatency"});
    ASSERT_NE(exporter.port(), 0) << exporter.process().err();
    std::this_thread::sleep_for(300ms); // some scheduling to count
    const Response response = scrape(exporter.port());
    ASSERT_EQ(response.status, 200);
    const auto samples = samples_of(response.body);
    for (const std::string name :
         {"coretrace_cpudist_oncpu_seconds", "coretrace_runqlat_seconds"}) {
        SCOPED_TRACE(name);
        // Slot 0 holds whole microseconds 0 and 1, i.e. real times below 2 us.
        const double first = value_of(samples, name + "_bucket{le=\"2e-06\"}");
        const double inf = value_of(samples, name + "_bucket{le=\"+Inf\"}");
        const double count = value_of(samples, name + "_count");
        EXPECT_GE(first, 0);
        EXPECT_GT(count, 0);
        EXPECT_EQ(inf, count);
        // Buckets never decrease, in the order written.
        double previous = 0;
        for (std::size_t at = response.body.find(name + "_bucket{"); at != std::string::npos;
             at = response.body.find(name + "_bucket{", at + 1)) {
            const auto line_end = response.body.find('\n', at);
            const auto space = response.body.rfind(' ', line_end);
            const double value = std::strtod(response.body.c_str() + space + 1, nullptr);
            EXPECT_GE(value, previous);
            previous = value;
        }
        EXPECT_GT(value_of(samples, name + "_sum"), 0);
    }
    // Each tool says which programs it attached, with the hook it chose.
    for (const std::string tool : {"cpudist", "runqlat", "biolatency"})
        EXPECT_NE(response.body.find("coretrace_exporter_program_attached{tool=\"" + tool + "\""),
                  std::string::npos)
            << tool;
    EXPECT_NE(response.body.find("hook=\"raw_tp/sched_switch\""), std::string::npos);
    EXPECT_EQ(value_of(samples, "coretrace_exporter_scrapes_total"), 1);

    const int promtool = promtool_check(response.body);
    exporter.process().signal(SIGINT);
    EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
    if (promtool < 0)
        GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
    EXPECT_EQ(promtool, 0) << response.body;
}

TEST(Exporter, AnswersOnlyMetricsAndSurvivesGarbage) {
    Exporter exporter({"syscount"});
    ASSERT_NE(exporter.port(), 0) << exporter.process().err();
    EXPECT_EQ(http_request(exporter.port(), "GET / HTTP/1.0\r\n\r\n").status, 404);
    EXPECT_EQ(http_request(exporter.port(), "POST /metrics HTTP/1.0\r\n\r\n").status, 405);
    http_request(exporter.port(), "\x01\x02garbage\r\n\r\n");
    EXPECT_EQ(scrape(exporter.port()).status, 200);
    exporter.process().signal(SIGTERM);
    EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
}

TEST(Exporter, HalfOpenClientsDoNotBlockAScrape) {
    Exporter exporter({"syscount"});
    ASSERT_NE(exporter.port(), 0) << exporter.process().err();
    // Three clients that send half a request and then nothing (4 workers serve).
    std::vector<int> stalled;
    for (int i = 0; i < 3; i++) {
        const int fd = connect_loopback(exporter.port());
        ASSERT_GE(fd, 0);
        (void)!write(fd, "GET /metr", 9);
        stalled.push_back(fd);
    }
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(scrape(exporter.port()).status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
    for (int fd : stalled)
        close(fd);
    exporter.process().signal(SIGINT);
    EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
}

TEST(Exporter, LeavesNothingLoadedAfterSigint) {
    Exporter exporter({});
    ASSERT_NE(exporter.port(), 0) << exporter.process().err();
    const BpfObjects held = held_by(exporter.process().pid());
    // Every default tool's programs: 10 tools, some with several.
    EXPECT_GE(held.progs.size(), 10u) << describe(held);
    EXPECT_FALSE(held.maps.empty());
    EXPECT_EQ(scrape(exporter.port()).status, 200);
    exporter.process().signal(SIGINT);
    EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
    const BpfObjects left = still_loaded(held, 5s);
    EXPECT_TRUE(left.empty()) << describe(left);
}

TEST(Exporter, PrometheusStoresTheCountsOfKnownWork) {
    const std::string server = on_path("prometheus");
    if (server.empty())
        GTEST_SKIP() << "prometheus is not installed (Debian package prometheus)";
    const std::string comm = "ctprom" + std::to_string(getpid());
    const std::string link = "/tmp/" + comm;
    unlink(link.c_str());
    ASSERT_EQ(symlink("/bin/true", link.c_str()), 0);
    // Block I/O counted for the tasks of a cgroup of this test's own (only the child's), TCP
    // connects for a port of this test's own server.
    const std::string disk = var_tmp_disk();
    UnifiedCgroup cgroup("coretrace-exporter-prometheus");
    const bool block = !disk.empty() && cgroup.ok();
    constexpr int connects = 4;
    EchoServer echo(connects, 10);
    const std::string port = std::to_string(echo.port());
    std::vector<std::string> tools{"execsnoop", "syscount", "tcpconnect:dport:ports=" + port};
    if (block)
        tools.push_back("biolatency:cgroup=" + cgroup.path().string());
    Exporter exporter(tools);
    ASSERT_NE(exporter.port(), 0) << exporter.process().err();

    // A real server on loopback, scraping every second into a data directory of its own.
    ScratchDir dir("exporter-prometheus");
    const std::string config = dir / "prometheus.yml";
    std::ofstream(config) << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                             "scrape_configs:\n  - job_name: coretrace\n"
                             "    static_configs:\n      - targets: ['127.0.0.1:"
                          << exporter.port() << "']\n";
    const int web = free_port();
    Subprocess prometheus(
        {server, "--config.file=" + config, "--storage.tsdb.path=" + (dir / "data"),
         "--web.listen-address=127.0.0.1:" + std::to_string(web), "--log.level=warn"});
    bool ready = false;
    for (int attempt = 0; attempt < 100 && !ready; attempt++) {
        std::this_thread::sleep_for(200ms);
        ready = http_request(web, "GET /-/ready HTTP/1.0\r\n\r\n").status == 200;
    }
    if (!ready) {
        prometheus.signal(SIGTERM);
        prometheus.wait(5s);
        FAIL() << "prometheus not ready on port " << web << ": " << prometheus.err();
    }

    constexpr int execs = 7;
    exec_times(link, execs);
    unlink(link.c_str());
    for (int i = 0; i < connects; i++)
        EXPECT_EQ(echo_session(echo.port(), 100), 10u);
    constexpr int blocks = 16; // K
    if (block) {
        // K O_DIRECT writes of one 4 KiB block each, from a child in the cgroup, to a file whose
        // blocks are allocated and on disk already: K requests, nothing else (no fsync; the
        // inode's new mtime is written back later, by the kernel's threads, outside the cgroup).
        DirectFile file;
        Child child(
            [&file] {
                const int fd = open(file.path().c_str(), O_WRONLY | O_DIRECT);
                void* buffer = nullptr;
                if (fd < 0 || posix_memalign(&buffer, 4096, 4096) != 0)
                    _exit(3);
                std::memset(buffer, 'k', 4096);
                for (int i = 0; i < blocks; i++)
                    if (pwrite(fd, buffer, 4096, static_cast<off_t>(i) * 8192) != 4096)
                        _exit(4);
                close(fd);
            },
            true);
        cgroup.add(child.pid());
        child.go();
        ASSERT_TRUE(child.wait_done());
        ASSERT_EQ(child.reap(), 0) << "the O_DIRECT workload failed";
    }
    // What Prometheus stored, once its scrapes caught up (1 s apart).
    auto stored = [&](const std::string& query, double expected) {
        double value = -1;
        for (int attempt = 0; attempt < 60 && value != expected; attempt++) {
            std::this_thread::sleep_for(250ms);
            value = prometheus_query(web, query);
        }
        return value;
    };
    EXPECT_EQ(stored("coretrace_execsnoop_execs_total{comm=\"" + comm + "\"}", execs), execs);
    EXPECT_EQ(stored("coretrace_tcpconnect_connects_total{family=\"ipv4\",dport=\"" + port + "\"}",
                     connects),
              connects);
    if (block) {
        constexpr double requests = blocks;
        EXPECT_EQ(
            stored("sum(coretrace_biolatency_seconds_count{disk=\"" + disk + "\"})", requests),
            requests);
        EXPECT_EQ(prometheus_query(web, "sum(coretrace_biolatency_seconds_bucket{disk=\"" + disk +
                                            "\",le=\"+Inf\"})"),
                  requests);
    }
    EXPECT_EQ(prometheus_query(web, "up{job=\"coretrace\"}"), 1);
    EXPECT_GT(prometheus_query(web, "sum(coretrace_syscount_calls_total)"), 0);

    prometheus.signal(SIGTERM);
    EXPECT_EQ(prometheus.wait(), 0) << prometheus.err();
    exporter.process().signal(SIGINT);
    EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
    if (!block)
        GTEST_SKIP() << "no whole disk under /var/tmp or no cgroup v2: block I/O unchecked";
}

// tcpconnect and tcplife, filtered to a port of this test's own server: each connect and each
// session of the client side counted exactly, with its bytes.
TEST(Exporter, CountsLoopbackConnectsAndSessionsExactly) {
    constexpr int sessions = 5;
    constexpr std::size_t sent = 3000, reply = 700;
    EchoServer server(sessions, reply);
    const std::string port = std::to_string(server.port());
    Exporter exporter({"tcpconnect:dport:ports=" + port, "tcplife:rports=" + port});
    ASSERT_NE(exporter.port(), 0) << exporter.process().err();
    for (int i = 0; i < sessions; i++)
        ASSERT_EQ(echo_session(server.port(), sent), reply);

    const std::string connects =
        "coretrace_tcpconnect_connects_total{family=\"ipv4\",dport=\"" + port + "\"}";
    EXPECT_EQ(wait_for_value(exporter.port(), connects, sessions), sessions);
    const std::string closed = "coretrace_tcplife_sessions_total{family=\"ipv4\"}";
    EXPECT_EQ(wait_for_value(exporter.port(), closed, sessions), sessions);
    const Response response = scrape(exporter.port());
    const auto samples = samples_of(response.body);
    // Sequence space acknowledged or received: the data, plus at most SYN and FIN each.
    const double tx = value_of(samples, "coretrace_tcplife_tx_bytes_total{family=\"ipv4\"}");
    const double rx = value_of(samples, "coretrace_tcplife_rx_bytes_total{family=\"ipv4\"}");
    EXPECT_GE(tx, sessions * sent);
    EXPECT_LE(tx, sessions * (sent + 2));
    EXPECT_GE(rx, sessions * reply);
    EXPECT_LE(rx, sessions * (reply + 2));
    EXPECT_EQ(value_of(samples, "coretrace_tcplife_duration_seconds_count{family=\"ipv4\"}"),
              sessions);
    EXPECT_EQ(value_of(samples, "coretrace_tcplife_duration_seconds_bucket{family=\"ipv4\","
                                "le=\"+Inf\"}"),
              sessions);
    EXPECT_GT(value_of(samples, "coretrace_tcplife_duration_seconds_sum{family=\"ipv4\"}"), 0);
    EXPECT_EQ(value_of(samples, "coretrace_tcpconnect_connects_over_cap_total"), 0);
    EXPECT_EQ(value_of(samples, "coretrace_exporter_events_lost_total{tool=\"tcpconnect\"}"), 0);
    EXPECT_EQ(value_of(samples, "coretrace_exporter_events_lost_total{tool=\"tcplife\"}"), 0);
    const int promtool = promtool_check(response.body);
    if (promtool >= 0) {
        EXPECT_EQ(promtool, 0) << response.body;
    }
    exporter.process().signal(SIGINT);
    EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
}

// hardirqs and softirqs against the kernel's own counts: the disk's interrupts while a child
// does O_DIRECT I/O (/proc/interrupts), and the timer softirq (/proc/softirqs), read around two
// scrapes; the exporter's delta lies within the kernel's.
TEST(Exporter, CountsInterruptsAsTheKernelDoes) {
    const std::string disk = var_tmp_disk();
    std::string handler;
    {
        std::ifstream in("/proc/interrupts");
        std::string line;
        while (std::getline(in, line))
            if (!disk.empty() && line.find("-req.") != std::string::npos &&
                line.find("virtio") != std::string::npos)
                handler = line.substr(line.rfind(' ') + 1);
    }
    Exporter exporter({"hardirqs", "softirqs"});
    ASSERT_NE(exporter.port(), 0) << exporter.process().err();
    const std::string timer = "coretrace_softirqs_runs_total{vector=\"timer\"}";
    const std::string irq = "coretrace_hardirqs_runs_total{irq=\"" + handler + "\"}";

    const long long kernel_timer_before = proc_softirqs("TIMER");
    const long long kernel_irq_before = handler.empty() ? 0 : proc_interrupts(handler);
    auto first = samples_of(scrape(exporter.port()).body);
    DirectFile file;
    Child child([&file] { file.run(); }, true);
    child.go();
    ASSERT_TRUE(child.wait_done());
    ASSERT_EQ(child.reap(), 0);
    std::this_thread::sleep_for(300ms);
    const Response response = scrape(exporter.port());
    auto second = samples_of(response.body);
    const long long kernel_timer = proc_softirqs("TIMER") - kernel_timer_before;
    const double timer_runs = value_of(second, timer) - value_of(first, timer);
    EXPECT_GT(timer_runs, 0);
    EXPECT_LE(timer_runs, kernel_timer);
    EXPECT_GT(value_of(second, "coretrace_softirqs_seconds_total{vector=\"timer\"}"), 0);
    EXPECT_NE(response.body.find("coretrace_exporter_program_attached{tool=\"softirqs\""),
              std::string::npos);
    if (!handler.empty()) {
        // The child's 20 requests each completed with an interrupt (or several in one).
        const long long kernel_irqs = proc_interrupts(handler) - kernel_irq_before;
        const double irqs = value_of(second, irq) - std::max(0.0, value_of(first, irq));
        EXPECT_GT(irqs, 0) << handler;
        EXPECT_LE(irqs, kernel_irqs) << handler;
        EXPECT_GT(value_of(second, "coretrace_hardirqs_seconds_total{irq=\"" + handler + "\"}"), 0);
    }
    exporter.process().signal(SIGINT);
    EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
    if (handler.empty())
        GTEST_SKIP() << "no virtio disk interrupt line for /var/tmp's disk: hardirqs unchecked";
}

TEST(Exporter, CountsAnOomKillWithItsVictim) {
    if (!std::filesystem::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
        GTEST_SKIP() << "no cgroup v1 memory controller: an OOM kill cannot be confined";
    MemoryCgroup cgroup(16u << 20);
    if (!cgroup.ok())
        GTEST_SKIP() << "cannot create a memory cgroup";
    Exporter exporter({"oomkill"});
    ASSERT_NE(exporter.port(), 0) << exporter.process().err();
    const std::string comm = "ctoom" + std::to_string(getpid() % 100000);
    Child child(
        [&comm] {
            prctl(PR_SET_NAME, comm.c_str());
            constexpr std::size_t bytes = 64u << 20;
            void* memory =
                mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (memory == MAP_FAILED)
                _exit(10);
            for (std::size_t at = 0; at < bytes; at += 4096)
                static_cast<volatile char*>(memory)[at] = 1;
            _exit(0);
        },
        true);
    cgroup.add(child.pid());
    child.go();
    ASSERT_EQ(child.reap(), 128 + SIGKILL) << "the child was not OOM-killed";
    const std::string victim = "coretrace_oomkill_victims_total{comm=\"" + comm + "\"}";
    EXPECT_EQ(wait_for_value(exporter.port(), victim, 1), 1);
    EXPECT_GE(value_of(samples_of(scrape(exporter.port()).body), "coretrace_oomkill_kills_total"),
              1);
    exporter.process().signal(SIGINT);
    EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
}

// TOOL:OPTIONS on the command line and the same keys in the configuration.
TEST(Exporter, ToolOptionsChangeWhatIsCounted) {
    Exporter exporter({"syscount:failures", "cpudist:offcpu"});
    ASSERT_NE(exporter.port(), 0) << exporter.process().err();
    // getppid never fails; close(-1) always does (EBADF).
    const std::string failed = "coretrace_syscount_failed_calls_total{syscall=\"close\"}";
    const double before = std::max(0.0, value_of(samples_of(scrape(exporter.port()).body), failed));
    constexpr int calls = 2000;
    Child child(
        [] {
            for (int i = 0; i < calls; i++) {
                syscall(SYS_getppid);
                syscall(SYS_close, -1);
            }
        },
        true);
    child.go();
    ASSERT_TRUE(child.wait_done());
    EXPECT_EQ(child.reap(), 0);
    const Response response = scrape(exporter.port());
    const auto samples = samples_of(response.body);
    EXPECT_GE(value_of(samples, failed) - before, calls);
    EXPECT_EQ(value_of(samples, "coretrace_syscount_failed_calls_total{syscall=\"getppid\"}"), -1);
    EXPECT_EQ(response.body.find("coretrace_syscount_calls_total"), std::string::npos);
    EXPECT_GT(value_of(samples, "coretrace_cpudist_offcpu_seconds_count"), 0);
    EXPECT_EQ(response.body.find("coretrace_cpudist_oncpu_seconds"), std::string::npos);
    exporter.process().signal(SIGINT);
    EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();

    ScratchDir dir("exporter-options");
    const std::string config = dir / "exporter.yml";
    std::ofstream(config) << "listen: 127.0.0.1:0\ntools:\n  tcpconnect:\n    dport: true\n"
                             "    ports: [80, 443]\n  softirqs:\n    dist: true\n    cpu: 0\n";
    Exporter configured({"--config", config}, false);
    ASSERT_NE(configured.port(), 0) << configured.process().err();
    const std::string text = scrape(configured.port()).body;
    EXPECT_NE(text.find("coretrace_softirqs_seconds_bucket{vector=\"timer\""), std::string::npos);
    EXPECT_NE(text.find("# TYPE coretrace_tcpconnect_connects_over_cap_total counter"),
              std::string::npos);
    configured.process().signal(SIGINT);
    EXPECT_EQ(configured.process().wait(), 0) << configured.process().err();
}

TEST(Exporter, RefusesBadToolOptionsInOneLine) {
    struct Case {
        std::string spec, says;
    };
    for (const Case& bad : {
             Case{"tcpconnect:nosuch", "tcpconnect: no option 'nosuch' (it has: cgroup, ports, "
                                       "dport)"},
             Case{"softirqs:cpu=x", "softirqs: option 'cpu' takes a number from 0 to 65535, "
                                    "not 'x'"},
             Case{"tcpconnect:ports=99999", "tcpconnect: option 'ports'"},
             Case{"oomkill:cgroup=/x", "oomkill: no option 'cgroup' (it has none)"},
             Case{"syscount:failures=maybe", "syscount: option 'failures' takes no value"},
             Case{"syscount::failures", "syscount: an empty option"},
         }) {
        SCOPED_TRACE(bad.spec);
        auto result = run({coretrace_binary(), "exporter", bad.spec});
        EXPECT_EQ(result.code, 2) << result.err;
        EXPECT_NE(result.err.find(bad.says), std::string::npos) << result.err;
        EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    }
    ScratchDir dir("exporter-options");
    const std::string config = dir / "bad.yml";
    std::ofstream(config) << "tools:\n  softirqs:\n    cpu: 70000\n";
    auto result = run({coretrace_binary(), "exporter", "--config", config});
    EXPECT_EQ(result.code, 1) << result.err;
    EXPECT_EQ(result.err, "exporter: " + config +
                              ":3: softirqs: option 'cpu' takes a number from 0 to 65535, not "
                              "'70000'\n");
}

TEST(Exporter, ReportsItsMapSizes) {
    Exporter exporter({"syscount", "execsnoop"});
    ASSERT_NE(exporter.port(), 0) << exporter.process().err();
    exec_times("/bin/true", 1);
    const auto samples = samples_of(scrape(exporter.port()).body);
    const double entries =
        value_of(samples, "coretrace_exporter_map_entries{tool=\"syscount\",map=\"counts\"}");
    const double most =
        value_of(samples, "coretrace_exporter_map_max_entries{tool=\"syscount\",map=\"counts\"}");
    // At least the system calls this process and the exporter made; at most the map's size.
    EXPECT_GE(entries, 5);
    EXPECT_LE(entries, most);
    EXPECT_GE(most, 300);
    // No ring buffer, no .rodata/.bss: only the tools' own maps.
    for (const auto& [series, value] : samples)
        if (series.rfind("coretrace_exporter_map_", 0) == 0) {
            EXPECT_EQ(series.find("ct_events"), std::string::npos) << series;
            EXPECT_EQ(series.find('.'), std::string::npos) << series;
        }
    exporter.process().signal(SIGINT);
    EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
}

// wrk on /metrics for 30 s with 16 connections on 2 threads: every response a 200, no socket
// error, a concurrent plain scrape still answered each second, and the exporter's RSS after the
// run within 4 MiB of its RSS after a warm-up. One test of ~35 s: run it alone with
// --gtest_filter='Exporter.WrkLoad*'.
TEST(Exporter, WrkLoadThirtySecondsNoErrorsFlatRss) {
    const std::string wrk = on_path("wrk");
    if (wrk.empty())
        GTEST_SKIP() << "wrk is not installed (Debian package wrk)";
    Exporter exporter({"syscount", "runqlat", "execsnoop"});
    ASSERT_NE(exporter.port(), 0) << exporter.process().err();
    const std::string url = "http://127.0.0.1:" + std::to_string(exporter.port()) + "/metrics";
    // Warm-up: civetweb's threads and buffers, the scrape's strings at their size.
    auto warm = run({wrk, "-t2", "-c16", "-d2s", url});
    ASSERT_EQ(warm.code, 0) << warm.err;
    const long rss_warm = rss_kb(exporter.process().pid());
    ASSERT_GT(rss_warm, 0);

    std::atomic<bool> done{false};
    std::atomic<int> scrapes{0}, failures{0};
    std::thread scraper([&] {
        while (!done.load()) {
            const auto started = std::chrono::steady_clock::now();
            const Response response = scrape(exporter.port());
            if (response.status == 200 && std::chrono::steady_clock::now() - started < 5s)
                scrapes++;
            else
                failures++;
            std::this_thread::sleep_for(1s);
        }
    });
    auto load = run({wrk, "-t2", "-c16", "-d30s", "--latency", url});
    done.store(true);
    scraper.join();
    const long rss_after = rss_kb(exporter.process().pid());

    ASSERT_EQ(load.code, 0) << load.err;
    EXPECT_EQ(load.out.find("Non-2xx or 3xx responses"), std::string::npos) << load.out;
    EXPECT_EQ(load.out.find("Socket errors"), std::string::npos) << load.out;
    long requests = 0;
    const auto at = load.out.find(" requests in ");
    if (at != std::string::npos)
        requests = std::atol(load.out.c_str() + load.out.rfind('\n', at) + 1);
    EXPECT_GT(requests, 100) << load.out;
    EXPECT_GE(scrapes.load(), 20);
    EXPECT_EQ(failures.load(), 0);
    EXPECT_LE(rss_after, rss_warm + 4096)
        << "RSS after warm-up " << rss_warm << " kB, after " << rss_after << " kB";
    const auto samples = samples_of(scrape(exporter.port()).body);
    EXPECT_GE(value_of(samples, "coretrace_exporter_scrapes_total"), requests);
    exporter.process().signal(SIGINT);
    EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
}

TEST(Exporter, PinnedCountsContinueAfterARestart) {
    const std::string dir = "/sys/fs/bpf/coretrace-exporter-test-" + std::to_string(getpid());
    const std::string pin = dir + "/syscount_counts";
    const std::string series = "coretrace_syscount_calls_total{syscall=\"getppid\"}";
    auto make_calls = [] {
        Child child(
            [] {
                for (int i = 0; i < 3000; i++)
                    syscall(SYS_getppid);
            },
            true);
        child.go();
        EXPECT_TRUE(child.wait_done());
        EXPECT_EQ(child.reap(), 0);
    };

    double first = -1;
    {
        Exporter exporter({"--pin", dir, "syscount"});
        ASSERT_NE(exporter.port(), 0) << exporter.process().err();
        make_calls();
        first = value_of(samples_of(scrape(exporter.port()).body), series);
        EXPECT_GE(first, 3000);
        exporter.process().signal(SIGINT);
        EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
    }
    struct stat status {};
    ASSERT_EQ(stat(pin.c_str(), &status), 0) << pin;
    EXPECT_EQ(status.st_mode & 0777, 0600u);
    {
        // The restarted exporter continues from the pinned counts.
        Exporter exporter({"--pin", dir, "syscount"});
        ASSERT_NE(exporter.port(), 0) << exporter.process().err();
        EXPECT_GE(value_of(samples_of(scrape(exporter.port()).body), series), first);
        make_calls();
        EXPECT_GE(value_of(samples_of(scrape(exporter.port()).body), series), first + 3000);
        exporter.process().signal(SIGINT);
        EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
    }
    // Unpinned, the map goes.
    BpfObjects pinned;
    const int fd = bpf_obj_get(pin.c_str());
    ASSERT_GE(fd, 0);
    bpf_map_info info{};
    __u32 length = sizeof info;
    ASSERT_EQ(bpf_obj_get_info_by_fd(fd, &info, &length), 0);
    close(fd);
    pinned.maps.insert(info.id);
    unlink(pin.c_str());
    rmdir(dir.c_str());
    EXPECT_TRUE(still_loaded(pinned, 5s).empty());
}

TEST(Exporter, PinRefusesADirectoryOutsideBpffs) {
    ScratchDir dir("exporter-pin");
    auto result = run({coretrace_binary(), "exporter", "--pin", dir.path().string(), "syscount"});
    EXPECT_EQ(result.code, 1) << result.err;
    EXPECT_NE(result.err.find("not on a BPF file system"), std::string::npos) << result.err;
}

TEST(Exporter, ConfigChoosesToolsAndTheirCgroup) {
    const std::filesystem::path unified = "/sys/fs/cgroup/unified";
    if (!std::filesystem::exists(unified / "cgroup.procs"))
        GTEST_SKIP() << "no cgroup v2 hierarchy at " << unified;
    const auto cgroup = unified / ("coretrace-exporter-" + std::to_string(getpid()));
    std::filesystem::create_directory(cgroup);
    struct Remove {
        std::filesystem::path path;
        ~Remove() { rmdir(path.c_str()); }
    } remove{cgroup};
    ScratchDir dir("exporter-config");
    const std::string config = dir / "exporter.yml";
    std::ofstream(config) << "listen: 127.0.0.1:0\nmax_series: 50\ntools:\n  syscount:\n"
                             "    cgroup: "
                          << cgroup.string() << "\n";
    Exporter exporter({"--config", config}, false);
    ASSERT_NE(exporter.port(), 0) << exporter.process().err();

    // Only the child is in the cgroup: its calls are exactly what is counted.
    constexpr int calls = 4000;
    Child child(
        [] {
            for (int i = 0; i < calls; i++)
                syscall(SYS_getppid);
        },
        true);
    std::ofstream(cgroup / "cgroup.procs") << child.pid() << std::endl;
    child.go();
    ASSERT_TRUE(child.wait_done());
    EXPECT_EQ(child.reap(), 0);
    const Response response = scrape(exporter.port());
    const auto samples = samples_of(response.body);
    EXPECT_EQ(value_of(samples, "coretrace_syscount_calls_total{syscall=\"getppid\"}"), calls);
    EXPECT_EQ(value_of(samples, "coretrace_exporter_max_series"), 50);
    EXPECT_EQ(response.body.find("coretrace_cpudist"), std::string::npos);
    exporter.process().signal(SIGINT);
    EXPECT_EQ(exporter.process().wait(), 0) << exporter.process().err();
}

TEST(Exporter, ConfigErrorsNameTheLine) {
    ScratchDir dir("exporter-config");
    const std::string config = dir / "bad.yml";
    std::ofstream(config) << "listen: 127.0.0.1:0\ntool:\n  syscount: {}\n";
    auto typo = run({coretrace_binary(), "exporter", "--config", config});
    EXPECT_EQ(typo.code, 1) << typo.err;
    EXPECT_EQ(typo.err, "exporter: " + config + ":2: unknown key 'tool' in the configuration\n");
    std::ofstream(config) << "tools:\n  syscount:\n    cgroup: /nonexistent/cgroup\n";
    auto bad_cgroup = run({coretrace_binary(), "exporter", "--config", config});
    EXPECT_EQ(bad_cgroup.code, 1) << bad_cgroup.err;
    EXPECT_EQ(std::count(bad_cgroup.err.begin(), bad_cgroup.err.end(), '\n'), 1) << bad_cgroup.err;
}

TEST(Exporter, RefusesBadInputInOneLine) {
    auto unknown = run({coretrace_binary(), "exporter", "nosuchtool"});
    EXPECT_EQ(unknown.code, 2) << unknown.err;
    EXPECT_TRUE(unknown.out.empty());
    EXPECT_EQ(std::count(unknown.err.begin(), unknown.err.end(), '\n'), 1) << unknown.err;

    // A port already taken: one line, exit 1.
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(listen(fd, 1), 0);
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    const std::string taken = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
    auto busy = run({coretrace_binary(), "exporter", "--listen", taken, "syscount"});
    close(fd);
    EXPECT_EQ(busy.code, 1) << busy.err;
    EXPECT_NE(busy.err.find("cannot listen on " + taken), std::string::npos) << busy.err;
    EXPECT_EQ(std::count(busy.err.begin(), busy.err.end(), '\n'), 1) << busy.err;
}

} // namespace
