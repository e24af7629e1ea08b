// `coretrace exporter`: started on a free loopback port, scraped over a plain socket while known
// work happens, its counts checked against that work, and nothing of it left after it ends.
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
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <string>
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

// One HTTP/1.0 request to 127.0.0.1:port, read to the end (5 s at most).
Response http_request(int port, const std::string& request) {
    Response response;
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return response;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        close(fd);
        return response;
    }
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
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(exporter.port()));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
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
    EXPECT_GE(held.progs.size(), 5u) << describe(held);
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
    Exporter exporter({"execsnoop", "syscount"});
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
    const std::string query = "coretrace_execsnoop_execs_total{comm=\"" + comm + "\"}";
    double stored = -1;
    for (int attempt = 0; attempt < 60 && stored != execs; attempt++) {
        std::this_thread::sleep_for(250ms);
        stored = prometheus_query(web, query);
    }
    EXPECT_EQ(stored, execs);
    EXPECT_EQ(prometheus_query(web, "up{job=\"coretrace\"}"), 1);
    EXPECT_GT(prometheus_query(web, "sum(coretrace_syscount_calls_total)"), 0);

    prometheus.signal(SIGTERM);
    EXPECT_EQ(prometheus.wait(), 0) << prometheus.err();
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
