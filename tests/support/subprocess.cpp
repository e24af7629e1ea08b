// Process plumbing for the tests: fork/exec with pipes, deadlines, and workload children.
#include "subprocess.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace coretrace::test {
namespace {

void make_pipe(int fds[2]) {
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
}

int decode_status(int status) {
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

} // namespace

std::string coretrace_binary() {
    return CORETRACE_TEST_BINARY;
}

Subprocess::Subprocess(const std::vector<std::string>& argv, std::function<void()> before_exec) {
    int out[2], err[2];
    make_pipe(out);
    make_pipe(err);
    pid_ = ::fork();
    if (pid_ < 0)
        throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        ::dup2(out[1], STDOUT_FILENO);
        ::dup2(err[1], STDERR_FILENO);
        int null = ::open("/dev/null", O_RDONLY);
        ::dup2(null, STDIN_FILENO);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        if (before_exec)
            before_exec();
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
        ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
    ::fcntl(out_fd_, F_SETFL, O_NONBLOCK);
    ::fcntl(err_fd_, F_SETFL, O_NONBLOCK);
}

Subprocess::~Subprocess() {
    if (!exited_) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_fd_);
    ::close(err_fd_);
}

void Subprocess::pump(std::chrono::milliseconds timeout) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    ::poll(fds, 2, static_cast<int>(timeout.count()));
    char buf[8192];
    for (auto [fd, text] : {std::pair{out_fd_, &out_}, std::pair{err_fd_, &err_}}) {
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof(buf))) > 0)
            text->append(buf, static_cast<std::size_t>(n));
    }
}

bool Subprocess::running() {
    if (exited_)
        return false;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        status_ = decode_status(status);
        pump(0ms);
        return false;
    }
    return true;
}

bool Subprocess::wait_for(const std::string& text, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        pump(20ms);
        if (out_.find(text) != std::string::npos || err_.find(text) != std::string::npos)
            return true;
        if (!running())
            return out_.find(text) != std::string::npos || err_.find(text) != std::string::npos;
    }
    return false;
}

void Subprocess::signal(int signo) {
    if (!exited_)
        ::kill(pid_, signo);
}

int Subprocess::wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            exited_ = true;
            return -1;
        }
        pump(20ms);
    }
    return status_;
}

Completed run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              std::function<void()> before_exec) {
    Subprocess process(argv, std::move(before_exec));
    int code = process.wait(timeout);
    return {code, process.out(), process.err()};
}

Child::Child(std::function<void()> work, bool exit_after) : exit_after_(exit_after) {
    int go[2], done[2], hold[2];
    make_pipe(go);
    make_pipe(done);
    make_pipe(hold);
    pid_ = ::fork();
    if (pid_ < 0)
        throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        char byte;
        ::close(go[1]);
        ::close(done[0]);
        ::close(hold[1]);
        if (::read(go[0], &byte, 1) != 1)
            ::_exit(1);
        work();
        if (exit_after)
            ::_exit(0);
        ::close(done[1]); // "done", without a write(2) of our own
        ssize_t ignored = ::read(hold[0], &byte, 1);
        (void)ignored;
        ::_exit(0);
    }
    ::close(go[0]);
    ::close(done[1]);
    ::close(hold[0]);
    go_fd_ = go[1];
    done_fd_ = done[0];
    hold_fd_ = hold[1];
}

Child::~Child() {
    ::close(go_fd_);
    ::close(hold_fd_);
    ::close(done_fd_);
    if (!reaped_) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
}

void Child::go() {
    char byte = 'g';
    if (::write(go_fd_, &byte, 1) != 1)
        throw std::runtime_error("cannot start the child");
}

bool Child::wait_done(std::chrono::milliseconds timeout) {
    pollfd pfd{done_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0)
        return false;
    if (exit_after_)
        return true;
    // Wait until it sleeps on its hold pipe and its switch count has settled.
    auto deadline = std::chrono::steady_clock::now() + timeout;
    long previous = -1;
    while (std::chrono::steady_clock::now() < deadline) {
        std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), {});
        auto close_paren = text.rfind(')');
        char state = close_paren != std::string::npos && close_paren + 2 < text.size()
                         ? text[close_paren + 2]
                         : '?';
        long now = context_switches(pid_);
        if (state == 'S' && now == previous)
            return true;
        previous = now;
        std::this_thread::sleep_for(30ms);
    }
    return false;
}

int Child::reap(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status;
    while (std::chrono::steady_clock::now() < deadline) {
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            reaped_ = true;
            return decode_status(status);
        }
        std::this_thread::sleep_for(10ms);
    }
    return -1;
}

long context_switches(pid_t pid) {
    long total = 0;
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream status(task.path() / "status");
        std::string line;
        while (std::getline(status, line)) {
            if (line.starts_with("voluntary_ctxt_switches:") ||
                line.starts_with("nonvoluntary_ctxt_switches:"))
                total += std::stol(line.substr(line.find(':') + 1));
        }
    }
    return total;
}

} // namespace coretrace::test
