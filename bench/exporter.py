#!/usr/bin/env python3
"""exporter benchmark: the cost of a scrape of `coretrace exporter` at 100, 1000 and 10000 series.

Run as root (python3 standard library only):  python3 bench/exporter.py --runs 5 [--json FILE]

The series come from the exporter's synthetic collector (`synthetic:series=N`: N counter series of one family,
no BPF behind them; for benchmarks only), so that the count is exact and nothing else varies; one more row runs
the default tools (every real collector, system-wide) to show where a real exporter stands. Runs are
interleaved (100, 1000, 10000, default, 100, ...) so that drift hits every size alike. Each run starts an
exporter on a free loopback port, scrapes it --warmup times, then --scrapes times one after the other, and
measures:
  latency    wall time of each scrape over a new connection (connect, GET /metrics, read to the end), median of
             the run's scrapes, and the slowest (p100) of them
  CPU        the exporter's CPU time, all threads (/proc/PID/task/*/schedstat), over the measured scrapes, divided
             by their number (what the exporter spends between scrapes, ~nothing, is included)
  RSS        the exporter's VmRSS (/proc/PID/status) after the last scrape, and ru_maxrss after it exited
  size       bytes of one response body, and the sample lines in it
Prints a Markdown table of medians (min-max) over the runs; --json FILE keeps the raw runs.
"""
import argparse, ctypes, json, os, signal, socket, statistics, sys, time

from harness import PR_SET_CHILD_SUBREAPER, Tracer, TracerError, fmt_cell, version

HERE = os.path.dirname(os.path.abspath(__file__))
READY = b"Hit Ctrl-C to end."
SIZES = (100, 1000, 10000)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    """(seconds, body) of one GET /metrics over a new connection."""
    t = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        chunks = []
        while data := s.recv(1 << 16):
            chunks.append(data)
    elapsed = time.perf_counter() - t
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.0 200"):
        raise TracerError("scrape answered %r" % head.split(b"\r\n")[0])
    return elapsed, body


def cpu_seconds(pid):
    """CPU time of all the process' threads (civetweb's workers serve the scrapes), from each thread's
    /proc/PID/task/TID/schedstat (nanoseconds; /proc/PID/stat counts in clock ticks, too coarse here)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:  # a thread that ended meanwhile
            pass
    return total / 1e9


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


MEASUREMENTS = [  # (column title, record key, divisor, decimals)
    ("scrape latency, median (ms)", "latency_s", 1e-3, 2),
    ("slowest scrape (ms)", "latency_max_s", 1e-3, 2),
    ("CPU per scrape (ms)", "cpu_per_scrape_s", 1e-3, 3),
    ("RSS after scrapes (MiB)", "rss_kib", 1024, 1),
    ("peak RSS (MiB)", "maxrss_kib", 1024, 1),
    ("body (KiB)", "body_bytes", 1024, 0),
]


def one_run(coretrace, label, tools, args):
    port = free_port()
    argv = [coretrace, "exporter", "--listen", "127.0.0.1:%d" % port, "--max-series", "10000"] + tools
    rec = {"label": label, "loadavg": os.getloadavg()[0]}
    with Tracer(argv, READY) as tr:
        rec["startup_ns"] = tr.wait_ready(args.timeout)
        for _ in range(args.warmup):
            scrape(port)
        cpu0 = cpu_seconds(tr.pid)
        latencies, body = [], b""
        for _ in range(args.scrapes):
            elapsed, body = scrape(port)
            latencies.append(elapsed)
        rec["cpu_per_scrape_s"] = (cpu_seconds(tr.pid) - cpu0) / args.scrapes
        rec["rss_kib"] = rss_kib(tr.pid)
        _, rec["maxrss_kib"], rec["exit_code"] = tr.stop(args.timeout)
    rec["latencies_s"] = latencies
    rec["latency_s"] = statistics.median(latencies)
    rec["latency_max_s"] = max(latencies)
    rec["body_bytes"] = len(body)
    rec["samples"] = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per size (default 5)")
    ap.add_argument("--scrapes", type=int, default=100, help="measured scrapes per run (default 100)")
    ap.add_argument("--warmup", type=int, default=5, help="scrapes before measuring (default 5)")
    ap.add_argument("--no-default", action="store_true", help="skip the row of the default (real) tools")
    ap.add_argument("--coretrace", default=os.path.join(HERE, "..", "build", "bin", "coretrace"))
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for ready / exit")
    ap.add_argument("--json", metavar="FILE", help="write the raw results here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("exporter.py: run as root (the exporter's tools need CAP_BPF and CAP_PERFMON)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so that the exporter gets stopped
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("exporter.py: prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))
    coretrace = os.path.normpath(args.coretrace)

    rows = [("%d series" % n, ["synthetic:series=%d" % n]) for n in SIZES]
    if not args.no_default:
        rows.append(("default tools", []))
    machine = {"nproc": os.cpu_count(), "kernel": os.uname().release, "loadavg_start": os.getloadavg(),
               "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    runs, notes = [], []
    for run in range(args.runs):
        for label, tools in rows:
            try:
                rec = one_run(coretrace, label, tools, args)
            except (OSError, TracerError) as e:
                notes.append("%s run %d failed: %s" % (label, run + 1, e))
                continue
            rec["run"] = run
            if rec["exit_code"] != 0:
                notes.append("%s run %d exited with %d" % (label, run + 1, rec["exit_code"]))
            runs.append(rec)
            print("run %d/%d %-14s" % (run + 1, args.runs, label), "  ".join(
                "%s %.*f" % (m[0].split(" (")[0], m[3], rec[m[1]] / m[2]) for m in MEASUREMENTS),
                file=sys.stderr)
    machine["loadavg_end"] = os.getloadavg()

    print("## exporter: the cost of a scrape\n")
    print("%s; %d CPUs; kernel %s; load average %.2f at start, %.2f at end; %d runs per row, interleaved; "
          "%d scrapes measured per run after %d.\n" % (
              machine["date"], machine["nproc"], machine["kernel"], machine["loadavg_start"][0],
              machine["loadavg_end"][0], args.runs, args.scrapes, args.warmup))
    print("| exporter | samples | " + " | ".join(m[0] for m in MEASUREMENTS) + " |")
    print("|---" * (len(MEASUREMENTS) + 2) + "|")
    for label, _ in rows:
        mine = [r for r in runs if r["label"] == label]
        samples = sorted({r["samples"] for r in mine})
        cells = [fmt_cell([r[key] for r in mine], scale, digits) for _, key, scale, digits in MEASUREMENTS]
        print("| %s (n=%d) | %s | %s |" % (label, len(mine), "–".join(map(str, samples[:1] + samples[-1:]))
                                           if len(samples) > 1 else (samples[0] if samples else "—"),
                                           " | ".join(cells)))
    print("\nCells: median (min–max) over the runs. Samples: sample lines in a response (the series, plus the "
          "exporter's own metrics; a histogram series is several lines).")
    print("\n- Command: `%s exporter --listen 127.0.0.1:PORT --max-series 10000 synthetic:series=N` (%s); the "
          "default-tools row names no tool (every real collector, system-wide)." % (
              coretrace, version([coretrace, "--version"])))
    print("- Scrapes are sequential, each over a new connection (HTTP/1.0, as Prometheus does without "
          "keep-alive), from Python on the same machine: the latency includes Python's side.")
    for note in notes:
        print("- " + note)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "notes": notes, "runs": runs}, f, indent=1)
    return 0 if runs else 1


if __name__ == "__main__":
    sys.exit(main())
