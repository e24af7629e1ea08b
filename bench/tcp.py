#!/usr/bin/env python3
"""tcplife and tcpconnect benchmark: the cost per TCP connection, coretrace against libbpf-tools and bpftrace.

Run as root (python3 standard library only; needs gcc):  python3 bench/tcp.py --runs 5 [--json FILE]

bench/connstorm.c makes the load: COUNT loopback connections one after another (connect and close on one thread,
accept and close on another), sized for about half a second untraced. Each connection is two whole TCP lives, so
a tracer of sock:inet_sock_set_state sees every state change of two sockets. Two jobs, each traced by every tracer
that can run it here, with its default text output written to a file on /dev/shm:
  tcplife     one line per closed socket (two per connection): coretrace `tcplife`, libbpf-tools' `tcplife` (a
              tracepoint tool, it runs here) and a bpftrace program on the same tracepoint
  tcpconnect  one line per active open: coretrace `tcpconnect`, libbpf-tools' `tcpconnect` (kprobes on
              tcp_v4_connect/tcp_v6_connect: it fails to attach on a kernel without kprobes, and the table says
              so), a bpftrace program on the same tracepoint
Runs are interleaved, and each traced load follows an untraced one. Per run:
  added us/conn   the load's time per connection with the tracer attached minus the untraced run just before
  missing         expected lines (connections x lines per connection) minus the load's lines in the output
  reported lost   what the tracer itself says it lost (stderr)
  start-up ms     from exec until its BPF programs are attached (seen with bpftool)
  peak RSS MiB    the tracer's ru_maxrss
Prints Markdown tables of medians (min-max) and ratios against coretrace; --json FILE keeps the raw runs.
"""
import argparse, ctypes, json, os, re, shutil, signal, statistics, subprocess, sys, tempfile, time

from harness import (PR_SET_CHILD_SUBREAPER, Tracer, TracerError, bpf_prog_ids, fmt_cell, version, wait_attached,
                     wait_gone, wait_quiet)

HERE = os.path.dirname(os.path.abspath(__file__))
TCP_CLOSE, TCP_SYN_SENT = 7, 2
# tcplife's job: a socket's life from its first state change to CLOSE, printed at CLOSE with its ports.
BPFTRACE_LIFE = ("tracepoint:sock:inet_sock_set_state /args->protocol == 6 && args->oldstate != 10 && args->newstate != 10/ { "
                 "if (@start[args->skaddr] == 0) { @start[args->skaddr] = nsecs; @pid[args->skaddr] = pid; } "
                 "if (args->newstate == %d) { printf(\"%%d %%s %%d %%d %%d\\n\", @pid[args->skaddr], comm, "
                 "args->sport, args->dport, (nsecs - @start[args->skaddr]) / 1000); "
                 "delete(@start[args->skaddr]); delete(@pid[args->skaddr]); } } "
                 "END { clear(@start); clear(@pid); }" % TCP_CLOSE)
# tcpconnect's job: an active open (CLOSE -> SYN_SENT), printed with the process and the ports.
BPFTRACE_CONNECT = ("tracepoint:sock:inet_sock_set_state /args->protocol == 6 && args->oldstate == %d && "
                    "args->newstate == %d/ { printf(\"%%d %%s %%d %%d\\n\", pid, comm, args->sport, args->dport); }"
                    % (TCP_CLOSE, TCP_SYN_SENT))
LOST = re.compile(rb"(\d+) events lost|[Ll]ost (\d+) events")
MEASUREMENTS = [  # (column title, record key, divisor, decimals)
    ("added us per connection", "added_us_per_connection", 1, 2),
    ("missing lines", "missing", 1, 0),
    ("reported lost", "reported_lost", 1, 0),
    ("start-up ms", "startup_ms", 1, 0),
    ("peak RSS (MiB)", "maxrss_kib", 1024, 1),
]


def jobs(args):
    """(job, lines per connection, [(tracer, argv)])"""
    return [
        ("tcplife", 2, [("coretrace", [args.coretrace, "tcplife"]),
                        ("libbpf-tools", [args.libbpf_tools + "/tcplife"]),
                        ("bpftrace", [args.bpftrace, "-e", BPFTRACE_LIFE])]),
        ("tcpconnect", 1, [("coretrace", [args.coretrace, "tcpconnect"]),
                           ("libbpf-tools", [args.libbpf_tools + "/tcpconnect"]),
                           ("bpftrace", [args.bpftrace, "-e", BPFTRACE_CONNECT])]),
    ]


def load(binary, count):
    out = subprocess.run([binary, str(count)], capture_output=True, text=True, check=True, timeout=600).stdout
    return {k: float(v) for k, v in (f.split("=") for f in out.split())}


def lines_with_port(path, port):
    """Lines of the tracer's output that name the load's listening port as a column of their own."""
    token = str(port).encode()
    with open(path, "rb") as f:
        return sum(1 for line in f if token in line.split())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per tracer and job (default 5)")
    ap.add_argument("--coretrace", default=os.path.join(HERE, "..", "build", "bin", "coretrace"))
    ap.add_argument("--libbpf-tools", default="/usr/sbin", help="directory of libbpf-tools' binaries")
    ap.add_argument("--bpftrace", default="bpftrace")
    ap.add_argument("--connections", type=int, default=0, help="per load (default: ~0.5 s worth untraced)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for attach / exit")
    ap.add_argument("--json", metavar="FILE", help="write the raw results here")
    args = ap.parse_args()
    args.coretrace = os.path.normpath(args.coretrace)
    if os.geteuid() != 0:
        sys.exit("tcp.py: run as root (the tracers need CAP_BPF and CAP_PERFMON)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("tcp.py: prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))
    if bpf_prog_ids() is None:
        sys.exit("tcp.py: needs bpftool (to see when a tracer has attached)")

    notes, skipped, runs = [], set(), []
    versions = {"coretrace": version([args.coretrace, "--version"]),
                "libbpf-tools": version(["dpkg-query", "-W", "-f", "${Package} ${Version}", "libbpf-tools"]),
                "bpftrace": version([args.bpftrace, "--version"])}
    machine = {"nproc": os.cpu_count(), "kernel": os.uname().release, "loadavg_start": os.getloadavg(),
               "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    for job, _, tracers in jobs(args):
        for name, argv in tracers:
            if not shutil.which(argv[0]):
                notes.append("%s %s skipped: %s not found" % (job, name, argv[0]))
                skipped.add((job, name))
            elif (why := fails_here(argv)) is not None:
                notes.append("%s %s cannot run here: `%s`" % (job, name, why))
                skipped.add((job, name))

    with tempfile.TemporaryDirectory(prefix="coretrace-bench-") as tmp, \
            tempfile.TemporaryDirectory(prefix="coretrace-bench-", dir="/dev/shm") as shm:
        binary = os.path.join(tmp, "connstorm")
        subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-pthread", "-o", binary,
                        os.path.join(HERE, "connstorm.c")], check=True)
        count = args.connections or max(1000, min(20000, int(0.5e9 / load(binary, 2000)["ns_per_connection"])))
        out_path = os.path.join(shm, "out")
        for run in range(args.runs):
            for job, per_connection, tracers in jobs(args):
                for name, argv in tracers:
                    if (job, name) in skipped:
                        continue
                    rec = {"job": job, "tracer": name, "run": run, "loadavg": os.getloadavg()[0]}
                    try:
                        base = load(binary, count)
                        before = bpf_prog_ids()
                        with open(out_path, "wb") as out, Tracer(argv, b"", stdout=out) as tr:
                            rec["own_bpf_progs"] = wait_attached(before, args.timeout)
                            rec["startup_ms"] = (time.perf_counter_ns() - tr.t0) / 1e6
                            traced = load(binary, count)
                            wait_quiet(out_path)
                            _, rec["maxrss_kib"], rec["exit_code"] = tr.stop(args.timeout)
                            stderr = tr.out
                        delivered = lines_with_port(out_path, int(traced["port"]))
                        leftover = set(rec["own_bpf_progs"]) & set(wait_gone(rec["own_bpf_progs"]))
                        if leftover:
                            notes.append("%s %s run %d: BPF programs %s still loaded 5 s after exit" % (
                                job, name, run + 1, sorted(leftover)))
                    except (OSError, TracerError, subprocess.SubprocessError) as e:
                        notes.append("%s %s run %d failed: %s" % (job, name, run + 1, e))
                        continue
                    finally:
                        if os.path.exists(out_path):
                            os.unlink(out_path)
                    rec["base"], rec["traced"], rec["delivered"] = base, traced, delivered
                    rec["added_us_per_connection"] = (traced["ns_per_connection"] - base["ns_per_connection"]) / 1e3
                    rec["missing"] = int(traced["connections"]) * per_connection - delivered
                    rec["reported_lost"] = sum(int(a or b) for a, b in LOST.findall(stderr))
                    if rec["exit_code"] != 0:
                        notes.append("%s %s run %d exited with %d" % (job, name, run + 1, rec["exit_code"]))
                    runs.append(rec)
                    print("run %d/%d %-10s %-12s" % (run + 1, args.runs, job, name), "  ".join(
                        "%s %.*f" % (m[1], m[3], rec[m[1]] / m[2]) for m in MEASUREMENTS), file=sys.stderr)
        machine["loadavg_end"] = os.getloadavg()

    print("## tcplife and tcpconnect: cost per loopback TCP connection\n")
    print("%s; %d CPUs; kernel %s; load average %.2f at start, %.2f at end; %d runs per tracer and job, "
          "interleaved; %d connections per load.\n" % (machine["date"], machine["nproc"], machine["kernel"],
                                                      machine["loadavg_start"][0], machine["loadavg_end"][0],
                                                      args.runs, count))
    for job, per_connection, tracers in jobs(args):
        by = {name: [r for r in runs if r["tracer"] == name and r["job"] == job] for name, _ in tracers}
        ref = {key: statistics.median([r[key] for r in by["coretrace"]]) / scale
               for _, key, scale, _ in MEASUREMENTS} if by["coretrace"] else {}
        base = [r["base"]["ns_per_connection"] / 1e3 for r in runs if r["job"] == job]
        print("### %s (%d line%s per connection); untraced %s us per connection\n" % (
            job, per_connection, "s" if per_connection > 1 else "", fmt_cell(base, 1, 1)))
        print("| tracer | " + " | ".join(m[0] for m in MEASUREMENTS) + " |")
        print("|---" * (len(MEASUREMENTS) + 1) + "|")
        for name, _ in tracers:
            cells = [fmt_cell([r[key] for r in by[name]], scale, digits,
                              None if name == "coretrace" else ref.get(key))
                     for _, key, scale, digits in MEASUREMENTS]
            print("| %s (n=%d) | %s |" % (name, len(by[name]), " | ".join(cells)))
        print()
    print("Cells: median (min–max) over the runs, ×ratio of the median to coretrace's; — where it did not run.\n")
    print("- Versions: coretrace %s; %s; %s." % (versions["coretrace"], versions["libbpf-tools"],
                                                versions["bpftrace"]))
    print("- bpftrace tcplife: `%s`" % BPFTRACE_LIFE)
    print("- bpftrace tcpconnect: `%s`" % BPFTRACE_CONNECT)
    print("- The bpftrace programs do the same job, not the same work: no byte counts, no addresses.")
    for note in notes:
        print("- " + note)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "versions": versions, "connections": count, "notes": notes,
                       "runs": runs}, f, indent=1)
    return 0 if runs else 1


def fails_here(argv):
    """None if the tracer still runs after 2 s alone; else the last line it printed on stderr as it quit."""
    try:
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=2)
    except subprocess.TimeoutExpired:  # subprocess.run kills it and waits: nothing stays attached
        return None
    lines = r.stderr.strip().splitlines()
    return lines[-1] if lines else "exit status %d" % r.returncode


if __name__ == "__main__":
    sys.exit(main())
