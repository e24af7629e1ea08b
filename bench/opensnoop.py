#!/usr/bin/env python3
"""opensnoop benchmark: the event stream under an open(2) storm, coretrace against libbpf-tools and bpftrace.

Run as root (python3 standard library only; needs gcc):  python3 bench/opensnoop.py --runs 5 [--json FILE]

bench/openstorm.c makes the storm: THREADS threads (default 2) each open and close one path as fast as they can,
sized for about a second untraced. Two workloads: `hit` opens an existing file (open + close), `miss` opens a
missing path (one failing open, a cheaper call, so more events per second). Every tracer traces every open on the
machine with its default text output, written to a file on /dev/shm. Runs are interleaved, and each traced storm
follows an untraced one. Per run:
  added ns/event  the storm's time per open with the tracer attached minus the untraced run just before
  delivered/s     storm lines in the tracer's output / (from the storm's start until the output stopped growing)
  missing         opens made - storm lines in the output (the ground truth: openstorm counts its opens)
  reported lost   what the tracer itself says it lost (stderr)
A fourth row, `floor`, attaches empty programs (bpftrace) to sys_enter_openat and sys_exit_openat: the cost of the
tracepoints themselves, which every tracer pays before its program does any work (it delivers no events).
Prints a Markdown table of medians (min-max) and ratios against coretrace; --json FILE keeps the raw runs.
"""
import argparse, ctypes, json, os, re, shutil, signal, statistics, subprocess, sys, tempfile, time

from harness import (PR_SET_CHILD_SUBREAPER, Tracer, TracerError, bpf_prog_ids, fmt_cell, version, wait_attached,
                     wait_gone, wait_quiet)

HERE = os.path.dirname(os.path.abspath(__file__))
BPFTRACE_PROG = ("tracepoint:syscalls:sys_enter_openat { @path[tid] = args->filename; } "
                 "tracepoint:syscalls:sys_exit_openat /@path[tid]/ { "
                 "printf(\"%d %s %d %s\\n\", pid, comm, args->ret, str(@path[tid])); delete(@path[tid]); } "
                 "END { clear(@path); }")
# The kernel's own cost: empty programs on the same two tracepoints (what no tracer can go below).
FLOOR_PROG = "tracepoint:syscalls:sys_enter_openat {} tracepoint:syscalls:sys_exit_openat {}"
LOST_PATTERNS = {  # what each tracer prints about records it lost
    "coretrace": re.compile(rb"(\d+) events lost"),
    "libbpf-tools": re.compile(rb"Lost (\d+) events"),
    "bpftrace": re.compile(rb"Lost (\d+) events"),
    "floor": re.compile(rb"Lost (\d+) events"),
}
MEASUREMENTS = [  # (column title, record key, divisor, decimals)
    ("added ns per event", "added_ns_per_event", 1, 0),
    ("events/s delivered (M)", "delivered_per_s", 1e6, 2),
    ("missing events", "missing", 1, 0),
    ("reported lost", "reported_lost", 1, 0),
    ("peak RSS (MiB)", "maxrss_kib", 1024, 1),
]


def storm(binary, path, threads, count):
    t0 = time.monotonic()
    out = subprocess.run([binary, path, str(threads), str(count)], capture_output=True, text=True, check=True,
                         timeout=600).stdout
    rec = {k: float(v) for k, v in (f.split("=") for f in out.split())}
    rec["started"] = t0
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per tracer and workload (default 5)")
    ap.add_argument("--coretrace", default=os.path.join(HERE, "..", "build", "bin", "coretrace"))
    ap.add_argument("--libbpf-tools", default="/usr/sbin/opensnoop", help="libbpf-tools' opensnoop")
    ap.add_argument("--bpftrace", default="bpftrace")
    ap.add_argument("--threads", type=int, default=2, help="storm threads (default 2)")
    ap.add_argument("--opens", type=int, default=0, help="opens per thread (default: ~1 s worth untraced)")
    ap.add_argument("--workloads", default="hit,miss", help="comma-separated: hit, miss (default both)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for attach / exit")
    ap.add_argument("--json", metavar="FILE", help="write the raw results here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("opensnoop.py: run as root (the tracers need CAP_BPF and CAP_PERFMON)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("opensnoop.py: prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))
    if bpf_prog_ids() is None:
        sys.exit("opensnoop.py: needs bpftool (to see when a tracer has attached)")

    tracers = [
        ("coretrace", [os.path.normpath(args.coretrace), "opensnoop"]),
        ("libbpf-tools", [args.libbpf_tools]),
        ("bpftrace", [args.bpftrace, "-e", BPFTRACE_PROG]),
        ("floor", [args.bpftrace, "-e", FLOOR_PROG]),
    ]
    notes, skipped = [], set()
    for name, argv in tracers:
        if not shutil.which(argv[0]):
            notes.append("%s skipped: %s not found" % (name, argv[0]))
            skipped.add(name)
    versions = {"coretrace": version(tracers[0][1][:1] + ["--version"]),
                "libbpf-tools": version(["dpkg-query", "-W", "-f", "${Package} ${Version}", "libbpf-tools"]),
                "bpftrace": version([args.bpftrace, "--version"])}
    workloads = [w for w in args.workloads.split(",") if w]

    with tempfile.TemporaryDirectory(prefix="coretrace-bench-") as tmp, \
            tempfile.TemporaryDirectory(prefix="coretrace-bench-", dir="/dev/shm") as shm:
        binary = os.path.join(tmp, "openstorm")
        subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-pthread", "-o", binary,
                        os.path.join(HERE, "openstorm.c")], check=True)
        paths = {"hit": os.path.join(tmp, "storm-file"), "miss": os.path.join(tmp, "storm-missing")}
        open(paths["hit"], "w").close()
        opens = {}
        for w in workloads:  # size each workload for ~1 s untraced
            opens[w] = args.opens or max(10000, int(1e9 / storm(binary, paths[w], 1, 20000)["ns_per_open"]))
        machine = {"nproc": os.cpu_count(), "kernel": os.uname().release, "loadavg_start": os.getloadavg(),
                   "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        runs = []
        for run in range(args.runs):
            for w in workloads:
                for name, argv in tracers:
                    if name in skipped:
                        continue
                    rec = {"tracer": name, "workload": w, "run": run, "loadavg": os.getloadavg()[0]}
                    out_path = os.path.join(shm, "out")
                    try:
                        base = storm(binary, paths[w], args.threads, opens[w])
                        before = bpf_prog_ids()
                        with open(out_path, "wb") as out, Tracer(argv, b"", stdout=out) as tr:
                            rec["own_bpf_progs"] = wait_attached(before, args.timeout)
                            traced = storm(binary, paths[w], args.threads, opens[w])
                            done = wait_quiet(out_path)
                            _, rec["maxrss_kib"], rec["exit_code"] = tr.stop(args.timeout)
                            stderr = tr.out
                        with open(out_path, "rb") as f:
                            needle = paths[w].encode()
                            delivered = sum(1 for line in f if needle in line)
                        leftover = set(rec["own_bpf_progs"]) & set(wait_gone(rec["own_bpf_progs"]))
                        if leftover:
                            notes.append("%s run %d: BPF programs %s still loaded 5 s after exit" % (
                                name, run + 1, sorted(leftover)))
                    except (OSError, TracerError, subprocess.SubprocessError) as e:
                        notes.append("%s %s run %d failed: %s" % (name, w, run + 1, e))
                        if not any(r["tracer"] == name for r in runs):
                            notes.append("%s skipped: it failed on its first run" % name)
                            skipped.add(name)
                        continue
                    finally:
                        if os.path.exists(out_path):
                            os.unlink(out_path)
                    rec["base"], rec["traced"], rec["delivered"] = base, traced, delivered
                    rec["added_ns_per_event"] = traced["ns_per_open"] - base["ns_per_open"]
                    if name == "floor":  # delivers nothing by design
                        rec["delivered_per_s"] = rec["missing"] = rec["reported_lost"] = None
                    else:
                        rec["delivered_per_s"] = delivered / max(done - traced["started"], 1e-9)
                        rec["missing"] = int(traced["opens"]) - delivered
                        rec["reported_lost"] = sum(int(n) for n in LOST_PATTERNS[name].findall(stderr))
                    if rec["exit_code"] != 0:
                        notes.append("%s %s run %d exited with %d" % (name, w, run + 1, rec["exit_code"]))
                    runs.append(rec)
                    print("run %d/%d %-4s %-12s" % (run + 1, args.runs, w, name), "  ".join(
                        "%s %.*f" % (m[1], m[3], rec[m[1]] / m[2]) for m in MEASUREMENTS
                        if rec[m[1]] is not None), file=sys.stderr)
        machine["loadavg_end"] = os.getloadavg()

    print("## opensnoop: coretrace vs libbpf-tools vs bpftrace under an open(2) storm\n")
    print("%s; %d CPUs; kernel %s; load average %.2f at start, %.2f at end; %d runs per tracer and workload, "
          "interleaved; %d storm threads.\n" % (machine["date"], machine["nproc"], machine["kernel"],
                                                machine["loadavg_start"][0], machine["loadavg_end"][0],
                                                args.runs, args.threads))
    for w in workloads:
        by = {name: [r for r in runs if r["tracer"] == name and r["workload"] == w] for name, _ in tracers}
        ref = {key: statistics.median([r[key] for r in by["coretrace"]]) / scale
               for _, key, scale, _ in MEASUREMENTS} if by["coretrace"] else {}
        base = [r["base"]["ns_per_open"] for r in runs if r["workload"] == w]
        print("### workload `%s`: %d threads x %d opens of %s; untraced %s ns per open\n" % (
            w, args.threads, opens[w], "an existing file (open + close)" if w == "hit" else "a missing path",
            fmt_cell(base, 1, 0)))
        print("| tracer | " + " | ".join(m[0] for m in MEASUREMENTS) + " |")
        print("|---" * (len(MEASUREMENTS) + 1) + "|")
        for name, _ in tracers:
            cells = [fmt_cell([r[key] for r in by[name] if r[key] is not None], scale, digits,
                              None if name == "coretrace" else ref.get(key))
                     for _, key, scale, digits in MEASUREMENTS]
            print("| %s (n=%d) | %s |" % (name, len(by[name]), " | ".join(cells)))
        print()
    print("Cells: median (min–max) over the runs, ×ratio of the median to coretrace's.\n")
    print("- Commands: coretrace `%s opensnoop` (%s); libbpf-tools `%s` (%s); bpftrace `%s -e '%s'` (%s)."
          % (tracers[0][1][0], versions["coretrace"], args.libbpf_tools, versions["libbpf-tools"],
             args.bpftrace, BPFTRACE_PROG, versions["bpftrace"]))
    print("- floor: `%s -e '%s'`, empty programs on the tracepoints every tracer here uses." % (
        args.bpftrace, FLOOR_PROG))
    print("- bpftrace traces openat(2) only (the storm uses openat), the others open, openat and openat2.")
    for note in notes:
        print("- " + note)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "versions": versions, "opens": opens, "threads": args.threads,
                       "bpftrace_program": BPFTRACE_PROG, "notes": notes, "runs": runs}, f, indent=1)
    return 0 if runs else 1


if __name__ == "__main__":
    sys.exit(main())
