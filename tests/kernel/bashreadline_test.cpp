// bashreadline: lines typed into an interactive bash of ours (on a pseudo-terminal, so that it
// reads them with readline) are reported with that bash's PID, in order, and a line longer than
// the record holds is cut cleanly and flagged; a bad library is refused in one line, and nothing
// remains loaded after the tool exits.
#include "json_lines.hpp"
#include "subprocess.hpp"
#include "tool_run.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <csignal>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace coretrace::test;

namespace {

// How many prompts ("$ ", our PS1) bash has shown.
std::size_t prompts(const std::string& screen) {
    std::size_t count = 0;
    for (auto at = screen.find("$ "); at != std::string::npos; at = screen.find("$ ", at + 2))
        count++;
    return count;
}

struct BashRun {
    pid_t pid = -1;
    int status = -1;
    std::string screen; // what bash wrote to its terminal
};

// Runs `bash --norc --noprofile -i` on a new pseudo-terminal, types `lines` (each followed by
// Enter) then "exit", and waits for it to end (at most 10 s).
BashRun run_interactive_bash(const std::vector<std::string>& lines) {
    BashRun run;
    int master = -1;
    struct winsize size = {};
    size.ws_row = 50;
    size.ws_col = 200;
    run.pid = ::forkpty(&master, nullptr, nullptr, &size);
    if (run.pid < 0) {
        ADD_FAILURE() << "forkpty: " << std::strerror(errno);
        return run;
    }
    if (run.pid == 0) {
        ::setenv("HISTFILE", "/dev/null", 1);
        ::setenv("PS1", "$ ", 1);
        ::setenv("TERM", "dumb", 1);
        ::execl("/bin/bash", "bash", "--norc", "--noprofile", "-i", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    std::vector<std::string> to_type = lines;
    to_type.emplace_back("exit");
    std::size_t typed = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    char buffer[4096];
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd fd{master, POLLIN, 0};
        if (::poll(&fd, 1, 100) < 0 && errno != EINTR)
            break;
        if (fd.revents & POLLIN) {
            const ssize_t got = ::read(master, buffer, sizeof(buffer));
            if (got <= 0)
                break; // EIO: bash and every holder of the terminal have gone
            run.screen.append(buffer, static_cast<std::size_t>(got));
        } else if (fd.revents & (POLLHUP | POLLERR)) {
            break;
        }
        // The next line once bash shows its prompt for it (readline is then reading).
        if (typed < to_type.size() && prompts(run.screen) > typed) {
            const std::string line = to_type[typed++] + "\n";
            if (::write(master, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
                ADD_FAILURE() << "writing to bash's terminal: " << std::strerror(errno);
        }
    }
    ::close(master);
    for (int i = 0; i < 100; i++) {
        if (::waitpid(run.pid, &run.status, WNOHANG) == run.pid)
            return run;
        ::usleep(50000);
    }
    ::kill(run.pid, SIGKILL);
    ::waitpid(run.pid, &run.status, 0);
    ADD_FAILURE() << "bash did not exit: " << run.screen;
    return run;
}

std::string unique_marker() {
    return "coretrace_bashreadline_" + std::to_string(::getpid()) + "_" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

} // namespace

TEST(Bashreadline, ReportsEachLineWithTheShellsPid) {
    const std::string command = "echo " + unique_marker();
    BashRun bash;
    auto run = run_around({"bashreadline", "--json"}, [&] {
        bash = run_interactive_bash({command, "true"});
    });
    ASSERT_TRUE(WIFEXITED(bash.status)) << bash.screen;
    EXPECT_EQ(WEXITSTATUS(bash.status), 0) << bash.screen;
    auto records = records_with(event_records(run), "pid", static_cast<unsigned>(bash.pid));
    ASSERT_EQ(records.size(), 3u) << run.out << "\nscreen: " << bash.screen;
    EXPECT_EQ(records[0]["command"], command);
    EXPECT_EQ(records[1]["command"], "true");
    EXPECT_EQ(records[2]["command"], "exit");
    for (const auto& record : records) {
        EXPECT_EQ(record["comm"], "bash");
        EXPECT_EQ(record["uid"], ::getuid());
        EXPECT_EQ(record["truncated"], false);
    }
}

TEST(Bashreadline, LongLineIsCutCleanlyAndFlagged) {
    const std::string marker = unique_marker();
    const std::string command = "echo " + marker + " " + std::string(400, 'x');
    BashRun bash;
    auto run =
        run_around({"bashreadline", "--json"}, [&] { bash = run_interactive_bash({command}); });
    auto records = records_with(event_records(run), "pid", static_cast<unsigned>(bash.pid));
    ASSERT_EQ(records.size(), 2u) << run.out << "\nscreen: " << bash.screen;
    EXPECT_EQ(records[0]["command"], command.substr(0, 255));
    EXPECT_EQ(records[0]["truncated"], true);
    EXPECT_EQ(records[1]["command"], "exit");
    EXPECT_EQ(records[1]["truncated"], false);
}

TEST(Bashreadline, TextOutputHasTimePidAndCommand) {
    const std::string command = "echo " + unique_marker();
    BashRun bash;
    auto run = run_around({"bashreadline"}, [&] { bash = run_interactive_bash({command}); });
    EXPECT_NE(run.out.find("... Hit Ctrl-C to end.\nTIME      PID     COMMAND\n"),
              std::string::npos)
        << run.out;
    const std::string pid = std::to_string(bash.pid);
    const auto at = run.out.find(" " + pid + std::string(8 - pid.size(), ' ') + command + "\n");
    EXPECT_NE(at, std::string::npos) << run.out;
    EXPECT_NE(run.err.find("0 events lost"), std::string::npos) << run.err;
}

TEST(Bashreadline, BadLibraryIsRefusedInOneLine) {
    expect_refused({"bashreadline", "-s", "/no/such/libreadline.so"}, 1, "No such file");
    expect_refused({"bashreadline", "-s", "/etc/hostname"}, 1, "not an ELF file");
    expect_refused({"bashreadline", "-d", "0"}, 2, "positive");
}

TEST(Bashreadline, NothingRemainsAfterExit) {
    expect_cleanup({"bashreadline"}, SIGINT);
    expect_cleanup({"bashreadline", "--json"}, SIGTERM);
    expect_cleanup({"bashreadline", "-d", "1"}, 0);
    // -s by library name: the shared libreadline (installed with bash's dependencies here).
    if (::access("/lib/x86_64-linux-gnu/libreadline.so.8", R_OK) == 0)
        expect_cleanup({"bashreadline", "-s", "libreadline"}, SIGINT);
}
