#!/usr/bin/env python3
"""cpudist benchmark: coretrace cpudist against libbpf-tools' cpudist and an equivalent bpftrace one-liner.

Run as root (python3 standard library only; needs gcc):  python3 bench/cpudist.py --runs 7 [--json FILE]

Runs are interleaved (coretrace, libbpf-tools, bpftrace, coretrace, ...) so that drift hits every tracer alike.
Each run measures, for one tracer:
  start-up   exec until the tracer prints its ready line (stdout on a pty, so stdio line-buffers as in a terminal);
             includes ~1 ms for `setsid -f`, which starts the tracer (see Tracer)
  peak RSS   ru_maxrss of the tracer process (os.wait4) after it was stopped with SIGINT
  detach     SIGINT until the process has exited (pidfd)
  overhead   ns per context switch of bench/pingpong.c with the tracer attached minus an untraced run made just
             before; pingpong is built with gcc -O2 -pthread into a temporary directory, sized for ~1 s.
             Also the same from the fastest of pingpong's 20 slices: robust to other tasks' interference.
Prints a Markdown table of medians (min-max) and ratios against coretrace; --json FILE keeps the raw runs.
"""
import argparse, ctypes, json, os, pty, selectors, shutil, signal, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
CPUDIST_READY = b"Tracing on-CPU time... Hit Ctrl-C to end."
BPFTRACE_READY = b"Attaching "  # "Attaching 2 probes..." (sched_switch + END); printed just before attaching
BPFTRACE_PROG = ("tracepoint:sched:sched_switch { if (@start[args->prev_pid]) { "
                 "@usecs = hist((nsecs - @start[args->prev_pid]) / 1000); } "
                 "@start[args->next_pid] = nsecs; } END { clear(@start); }")
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

    def __init__(self, argv, ready):
        self.ready, self.out, self.pid, self.exited_ns, self.reaped = ready, b"", None, None, False
        self.pidfd, self.sel = None, selectors.DefaultSelector()
        master, slave = pty.openpty()
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


def pingpong(binary, round_trips, cpu):
    out = subprocess.run([binary, str(round_trips), str(cpu)], capture_output=True, text=True, check=True,
                         timeout=300).stdout
    return {k: float(v) for k, v in (f.split("=") for f in out.split())}


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


MEASUREMENTS = [  # (column title, record key, divisor, decimals, progress label)
    ("start-up, exec → ready (ms)", "startup_ns", 1e6, 1, "start-up ms"),
    ("peak RSS (MiB)", "maxrss_kib", 1024, 1, "RSS MiB"),
    ("detach, SIGINT → exit (ms)", "detach_ns", 1e6, 1, "detach ms"),
    ("added ns per context switch", "added_ns_per_switch", 1, 0, "+ns/switch"),
    ("same, fastest 1/20 slices", "added_ns_fastest", 1, 0, "fastest slices"),
]
MEASUREMENTS_NS = ("added_ns_per_switch", "added_ns_fastest")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="runs per tracer (default 7)")
    ap.add_argument("--coretrace", default=os.path.join(HERE, "..", "build", "bin", "coretrace"))
    ap.add_argument("--libbpf-tools", default="/usr/sbin/cpudist", help="libbpf-tools' cpudist")
    ap.add_argument("--bpftrace", default="bpftrace")
    ap.add_argument("--cpu", type=int, default=1, help="CPU pingpong's two threads are pinned to (default 1)")
    ap.add_argument("--round-trips", type=int, default=0, help="pingpong round trips (default: ~1 s worth)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for ready / exit")
    ap.add_argument("--json", metavar="FILE", help="write the raw results here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("cpudist.py: run as root (the tracers need CAP_BPF and CAP_PERFMON)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so that the tracer gets stopped
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("cpudist.py: prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))

    tracers = [  # (name, argv, ready line)
        ("coretrace", [os.path.normpath(args.coretrace), "cpudist"], CPUDIST_READY),
        ("libbpf-tools", [args.libbpf_tools], CPUDIST_READY),
        ("bpftrace", [args.bpftrace, "-e", BPFTRACE_PROG], BPFTRACE_READY),
    ]
    notes, skipped = [], set()
    for name, argv, _ in tracers:
        if not shutil.which(argv[0]):
            notes.append("%s skipped: %s not found" % (name, argv[0]))
            skipped.add(name)
    versions = {"coretrace": version(tracers[0][1][:1] + ["--version"]),
                "libbpf-tools": version(["dpkg-query", "-W", "-f", "${Package} ${Version}", "libbpf-tools"]),
                "bpftrace": version([args.bpftrace, "--version"])}

    with tempfile.TemporaryDirectory(prefix="coretrace-bench-") as tmp:
        pp = os.path.join(tmp, "pingpong")
        subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-pthread", "-o", pp,
                        os.path.join(HERE, "pingpong.c")], check=True)
        round_trips = args.round_trips
        if not round_trips:  # size for ~1 s untraced
            ns = pingpong(pp, 20000, args.cpu)["ns_per_switch"]
            round_trips = max(10000, int(1e9 / (2 * ns)))
        machine = {"nproc": os.cpu_count(), "kernel": os.uname().release,
                   "loadavg_start": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        progs_before = bpf_prog_ids()
        runs = []
        for run in range(args.runs):
            for name, argv, ready in tracers:
                if name in skipped:
                    continue
                rec = {"tracer": name, "run": run, "loadavg": os.getloadavg()[0],
                       "other_bpf_progs": bpf_prog_ids()}  # others' tracers would skew these runs
                try:
                    base = pingpong(pp, round_trips, args.cpu)
                    with Tracer(argv, ready) as tr:
                        rec["startup_ns"] = tr.wait_ready(args.timeout)
                        time.sleep(0.2)  # let a tracer that announces before attaching (bpftrace) finish
                        during = bpf_prog_ids()
                        traced = pingpong(pp, round_trips, args.cpu)
                        rec["detach_ns"], rec["maxrss_kib"], rec["exit_code"] = tr.stop(args.timeout)
                    if during is not None:  # its programs are freed a little after its exit (RCU)
                        rec["own_bpf_progs"] = sorted(set(during) - set(rec["other_bpf_progs"]))
                        rec["other_bpf_progs_after"] = wait_gone(rec["own_bpf_progs"])
                        if set(rec["own_bpf_progs"]) & set(rec["other_bpf_progs_after"]):
                            notes.append("%s run %d: BPF programs %s still loaded 5 s after its exit" % (
                                name, run + 1, rec["own_bpf_progs"]))
                except (OSError, TracerError, subprocess.SubprocessError) as e:
                    notes.append("%s run %d failed: %s" % (name, run + 1, e))
                    if not any(r["tracer"] == name for r in runs):
                        notes.append("%s skipped: it failed on its first run" % name)
                        skipped.add(name)
                    continue
                rec["base"], rec["traced"] = base, traced
                rec["added_ns_per_switch"] = traced["ns_per_switch"] - base["ns_per_switch"]
                rec["added_ns_fastest"] = traced["min_chunk_ns_per_switch"] - base["min_chunk_ns_per_switch"]
                if rec["exit_code"] != 0:
                    notes.append("%s run %d exited with %d" % (name, run + 1, rec["exit_code"]))
                runs.append(rec)
                print("run %d/%d %-12s" % (run + 1, args.runs, name), "  ".join(
                    "%s %.*f" % (m[4], m[3], rec[m[1]] / m[2]) for m in MEASUREMENTS), file=sys.stderr)
        progs_after = bpf_prog_ids()
        machine["loadavg_end"] = os.getloadavg()

    by = {name: [r for r in runs if r["tracer"] == name] for name, _, _ in tracers}
    ref = {key: statistics.median([r[key] for r in by["coretrace"]]) / scale
           for _, key, scale, _, _ in MEASUREMENTS} if by["coretrace"] else {}
    base = [r["base"]["ns_per_switch"] for r in runs]
    base_fastest = [r["base"]["min_chunk_ns_per_switch"] for r in runs]
    sw = [r[k]["switches"] / r[k]["round_trips"] for r in runs for k in ("base", "traced")]

    print("## cpudist: coretrace vs libbpf-tools vs bpftrace\n")
    print("%s; %d CPUs; kernel %s; load average %.2f at start, %.2f at end; %d runs per tracer, interleaved.\n"
          % (machine["date"], machine["nproc"], machine["kernel"], machine["loadavg_start"][0],
             machine["loadavg_end"][0], args.runs))
    print("| tracer | " + " | ".join(m[0] for m in MEASUREMENTS) + " |")
    print("|---" * (len(MEASUREMENTS) + 1) + "|")
    for name, _, _ in tracers:
        cells = [fmt_cell([r[key] for r in by[name]], scale, digits,
                          None if name == "coretrace" else ref.get(key))
                 for _, key, scale, digits, _ in MEASUREMENTS]
        print("| %s (n=%d) | %s |" % (name, len(by[name]), " | ".join(cells)))
    print("\nCells: median (min–max) over the runs, ×ratio of the median to coretrace's.")
    print("\n- Commands: coretrace `%s cpudist` (%s); libbpf-tools `%s` (%s); bpftrace `%s -e '%s'` (%s)."
          % (tracers[0][1][0], versions["coretrace"], args.libbpf_tools, versions["libbpf-tools"],
             args.bpftrace, BPFTRACE_PROG, versions["bpftrace"]))
    print("- bpftrace does the same job (on-CPU time per slice as a log2 histogram), not the same code; its ready "
          "line \"Attaching N probes...\" is printed just before it attaches, so its start-up is a slight "
          "underestimate.")
    if base:
        print("- pingpong: %d round trips on CPU %d, untraced %s ns per switch (fastest slices %s); "
              "%.2f-%.2f switches per round trip counted by getrusage (2 expected)."
              % (round_trips, args.cpu, fmt_cell(base, 1, 0), fmt_cell(base_fastest, 1, 0), min(sw), max(sw)))
    if progs_before is not None:
        print("- BPF programs loaded (bpftool prog show): %d before, %d after%s." % (
            len(progs_before), len(progs_after), "" if progs_before == progs_after else " (not the same ones)"))
    # Others' BPF programs add their cost to both pingpong runs; one that came or went in between skews a run.
    foreign = [r for r in runs if r["other_bpf_progs"] or r.get("other_bpf_progs_after")]
    busy = [r for r in foreign if r["other_bpf_progs"] != r["other_bpf_progs_after"]]
    if foreign:
        print("- Other BPF programs were loaded during %d of %d runs and changed during %d%s." % (
            len(foreign), len(runs), len(busy), "" if not busy else "; added ns per switch (whole / fastest "
            "slices) without those: " + "; ".join("%s %s / %s" % (name, *(fmt_cell(
                [r[key] for r in by[name] if r not in busy], 1, 0) for key in MEASUREMENTS_NS)) for name in by)))
    for note in notes:
        print("- " + note)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "versions": versions, "round_trips": round_trips, "cpu": args.cpu,
                       "bpftrace_program": BPFTRACE_PROG, "progs_before": progs_before,
                       "progs_after": progs_after, "notes": notes, "runs": runs}, f, indent=1)
    return 0 if runs else 1


if __name__ == "__main__":
    sys.exit(main())
