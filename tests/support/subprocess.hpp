// Test support: runs a command with its stdout and stderr captured, waits for a line to appear,
// signals it and collects its exit status, never hanging past a deadline.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace coretrace::test {

using namespace std::chrono_literals;

// Path of the coretrace binary under test (set by the build).
std::string coretrace_binary();

class Subprocess {
  public:
    // Runs argv[0] with argv. `before_exec` runs in the child (e.g. to drop privileges).
    explicit Subprocess(const std::vector<std::string>& argv,
                        std::function<void()> before_exec = {});
    ~Subprocess(); // kills and reaps the child if still running
    Subprocess(const Subprocess&) = delete;
    Subprocess& operator=(const Subprocess&) = delete;

    pid_t pid() const { return pid_; }
    // Waits until `text` appears on stdout or stderr; false on timeout or exit.
    bool wait_for(const std::string& text, std::chrono::milliseconds timeout = 20s);
    void signal(int signo);
    // Waits for exit, reading output; returns the exit code (128+N for signal N), or -1 on
    // timeout (the child is then killed).
    int wait(std::chrono::milliseconds timeout = 30s);
    bool running();

    const std::string& out() const { return out_; }
    const std::string& err() const { return err_; }

  private:
    void pump(std::chrono::milliseconds timeout);

    pid_t pid_ = -1;
    int out_fd_ = -1, err_fd_ = -1;
    int status_ = -1;
    bool exited_ = false;
    std::string out_, err_;
};

// Runs a command to completion and returns it (exit code in wait()).
struct Completed {
    int code;
    std::string out, err;
};
Completed run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 60s,
              std::function<void()> before_exec = {});

// A forked child that waits for go(), runs `work`, then either exits (exit_after = true) or
// blocks until the Child object dies. Its "done" is seen from outside without it writing.
class Child {
  public:
    explicit Child(std::function<void()> work, bool exit_after = false);
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return pid_; }
    bool exits_after() const { return exit_after_; }
    void go();
    // Waits until the child finished `work`: exited (exit_after) or blocked again on its pipe.
    bool wait_done(std::chrono::milliseconds timeout = 30s);
    // Waits for an exiting child and reaps it; returns its exit status.
    int reap(std::chrono::milliseconds timeout = 30s);

  private:
    pid_t pid_ = -1;
    int go_fd_ = -1, done_fd_ = -1, hold_fd_ = -1;
    bool exit_after_;
    bool reaped_ = false;
};

// Context switches of a process so far (voluntary + involuntary, all threads), from /proc.
long context_switches(pid_t pid);

} // namespace coretrace::test
