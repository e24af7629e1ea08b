"""Shared by the benchmarks: run a tracer as a child we can measure (start-up, peak RSS, detach), stop it cleanly
whatever happens, watch the BPF programs it loads, and format cells of medians and ratios. Standard library only."""
import os, pty, selectors, shutil, signal, statistics, subprocess, time

PR_SET_CHILD_SUBREAPER = 36


class TracerError(Exception):
    pass


def our_children():
    """PIDs whose parent is this process (no /proc/PID/task/TID/children on every kernel)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % entry) as f:
                if entry.isdigit() and int(f.read().rpartition(")")[2].split()[1]) == os.getpid():
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return found


class Tracer:
    """A running tracer, as a context manager: on exit it is always stopped (SIGINT, then SIGKILL) and reaped,
    so that no BPF program outlives the benchmark.

    ru_maxrss counts the memory of the process that called exec, so a tracer spawned straight from Python would
    report at least Python's own RSS (~14 MiB). It is therefore started by `setsid -f`, a small process that
    forks it and exits; this process is a child subreaper, so the tracer is reparented to it and os.wait4 works."""

    def __init__(self, argv, ready, stdout=None):
        """stdout: a file object for the tracer's stdout (default: a pty we read, where `ready` is looked for)."""
        self.ready, self.out, self.pid, self.exited_ns, self.reaped = ready, b"", None, None, False
        self.pidfd, self.sel = None, selectors.DefaultSelector()
        master, slave = pty.openpty()
        if stdout is not None:  # the pty stays, unused, so that the rest is the same
            os.close(slave)
            slave = os.dup(stdout.fileno())
        try:
            self.t0 = time.perf_counter_ns()
            self.launcher = subprocess.Popen(["setsid", "-f"] + argv, stdin=subprocess.DEVNULL, stdout=slave,
                                             stderr=subprocess.PIPE, bufsize=0)
        except OSError:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.master = master
        for fd in (master, self.launcher.stderr.fileno()):
            self.sel.register(fd, selectors.EVENT_READ)

    def _adopt(self):
        if self.pid is None:
            self.launcher.wait()
            pids = our_children()
            if len(pids) != 1:
                raise TracerError("expected one tracer process, found %r" % pids)
            self.pid, self.pidfd = pids[0], os.pidfd_open(pids[0])
            self.sel.register(self.pidfd, selectors.EVENT_READ)

    def _pump(self, done, timeout):
        """Read stdout/stderr as it comes (and watch for exit) until done() or timeout; returns done()."""
        deadline = time.monotonic() + timeout
        while not done() and self.sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in self.sel.select(left):
                if key.fd == self.pidfd:
                    self.exited_ns = time.perf_counter_ns()
                    self.sel.unregister(key.fd)
                    continue
                try:
                    data = os.read(key.fd, 65536)
                except OSError:  # EIO from the pty master once the tracer has gone
                    data = b""
                if data:
                    self.out += data
                else:
                    self.sel.unregister(key.fd)
        return done()

    def wait_ready(self, timeout):
        """Nanoseconds from just before exec to the read that brought the ready line."""
        ok = self._pump(lambda: self.ready in self.out, timeout)  # returns early at EOF too
        elapsed = time.perf_counter_ns() - self.t0
        self._adopt()
        if not ok:
            tail = self.out.decode(errors="replace").strip().splitlines()[-3:]
            raise TracerError("no ready line within %gs: %s" % (timeout, " | ".join(tail) or "no output"))
        return elapsed

    def stop(self, timeout):
        """SIGINT; returns (ns until exit, ru_maxrss KiB, exit code)."""
        self._adopt()
        t = time.perf_counter_ns()
        os.kill(self.pid, signal.SIGINT)
        if not self._pump(lambda: self.exited_ns is not None, timeout):
            raise TracerError("still running %gs after SIGINT" % timeout)
        self._pump(lambda: False, 1.0)  # drain the final report
        _, status, rusage = os.wait4(self.pid, 0)
        self._reaped(status)
        return self.exited_ns - t, rusage.ru_maxrss, self.returncode

    def _reaped(self, status):
        self.reaped, self.returncode = True, os.waitstatus_to_exitcode(status)

    __enter__ = lambda self: self  # noqa: E731

    def __exit__(self, *exc):
        try:
            self._adopt()
        except TracerError:
            pass
        if self.pid is not None and not self.reaped:
            os.kill(self.pid, signal.SIGINT)  # cannot fail: it is our unreaped child
            for _ in range(500):  # 5 s to exit cleanly, then SIGKILL
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    break
                time.sleep(0.01)
            else:
                os.kill(self.pid, signal.SIGKILL)
                status = os.waitpid(self.pid, 0)[1]
            self._reaped(status)
        self.sel.close()
        for fd in (self.master, self.pidfd):
            if fd is not None:
                os.close(fd)
        self.launcher.stderr.close()
        return False


def bpf_prog_ids():
    """IDs of the BPF programs loaded now (by anyone), or None without bpftool."""
    if not shutil.which("bpftool"):
        return None
    out = subprocess.run(["bpftool", "prog", "show"], capture_output=True, text=True).stdout
    return [int(line.split(":")[0]) for line in out.splitlines() if line[:1].isdigit()]


def wait_gone(ids, timeout=5.0):
    """Polls until none of the BPF programs ids is loaded any more; returns the loaded ones."""
    deadline = time.monotonic() + timeout
    while set(ids) & set(now := bpf_prog_ids()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return now


def wait_attached(before, timeout):
    """Waits until BPF programs not in `before` are loaded and their set stays the same for 300 ms."""
    deadline, seen, since = time.monotonic() + timeout, None, None
    while time.monotonic() < deadline:
        now = set(bpf_prog_ids()) - set(before)
        if now and now == seen:
            if time.monotonic() - since >= 0.3:
                return sorted(now)
        else:
            seen, since = now, time.monotonic()
        time.sleep(0.02)
    raise TracerError("no BPF program attached within %gs" % timeout)


def wait_quiet(path, quiet=0.3, timeout=30.0):
    """Waits until the file at `path` has not grown for `quiet` seconds; returns when it last grew."""
    size, changed = os.path.getsize(path), time.monotonic()
    deadline = changed + timeout
    while time.monotonic() < deadline:
        time.sleep(0.01)
        now = os.path.getsize(path)
        if now != size:
            size, changed = now, time.monotonic()
        elif time.monotonic() - changed >= quiet:
            break
    return changed


def version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def fmt_cell(values, scale, digits, ref=None):
    if not values:
        return "—"
    med = statistics.median(values) / scale
    cell = "%.*f (%.*f–%.*f)" % (digits, med, digits, min(values) / scale, digits, max(values) / scale)
    if ref is not None:
        cell += ", ×%.2f" % (med / ref) if ref > 0 else ", × n/a"
    return cell
