#!/usr/bin/env python3
"""`coretrace list` against `bpftrace -l`: wall time of listing hooks.

Run as root (python3 standard library only):  python3 bench/list.py --runs 7 [--json FILE]

Cases (each run interleaves coretrace and bpftrace so that drift hits both alike):
  all tracepoints         list 'tracepoint:*'            bpftrace -l 'tracepoint:*'
  no pattern              list                           bpftrace -l   (coretrace adds raw_tp + tp_btf: BTF)
  syscalls *open*         list 'tracepoint:syscalls:*open*'
  -v one tracepoint       list -v tracepoint:syscalls:sys_enter_openat
  tp_btf:* (coretrace)    list 'tp_btf:*'                (no bpftrace equivalent in 0.17)
  usdt python3 (both)     list 'usdt:/usr/bin/python3.11:*'
Wall time is exec to exit with stdout into a pipe that is read to the end (lines counted, to check both list
the same number of hooks). Prints a Markdown table of medians (min-max) and the ratio bpftrace / coretrace.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, time

from harness import fmt_cell, version

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BINARY = os.path.join(HERE, "..", "build", "bin", "coretrace")

CASES = [  # (title, coretrace list args, bpftrace -l args or None)
    ("all tracepoints", ["tracepoint:*"], ["tracepoint:*"]),
    ("no pattern (everything)", [], []),
    ("tracepoint:syscalls:\\*open\\*", ["tracepoint:syscalls:*open*"], ["tracepoint:syscalls:*open*"]),
    ("-v tracepoint:syscalls:sys_enter_openat", ["-v", "tracepoint:syscalls:sys_enter_openat"],
     ["-v", "tracepoint:syscalls:sys_enter_openat"]),
    ("tp_btf:\\*", ["tp_btf:*"], None),
    ("-v tp_btf:sched_switch", ["-v", "tp_btf:sched_switch"], None),
    ("usdt:/usr/bin/python3.11:\\*", ["usdt:/usr/bin/python3.11:*"], ["usdt:/usr/bin/python3.11:*"]),
]


def timed(argv):
    t0 = time.perf_counter_ns()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    ns = time.perf_counter_ns() - t0
    return ns, r.returncode, len(r.stdout.splitlines())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--binary", default=DEFAULT_BINARY)
    ap.add_argument("--bpftrace", default=shutil.which("bpftrace"))
    ap.add_argument("--json", help="write the raw runs here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("list.py: run as root (bpftrace -l needs it)")
    binary = os.path.abspath(args.binary)
    cases = [c for c in CASES if not c[0].startswith("usdt") or os.path.exists("/usr/bin/python3.11")]
    raw = {title: {"coretrace": [], "bpftrace": [], "lines": {}} for title, _, _ in cases}
    for run in range(args.runs):
        for title, ours, theirs in cases:
            for name, argv in (("coretrace", [binary, "list"] + ours),
                               ("bpftrace", [args.bpftrace, "-l"] + theirs if theirs is not None and
                                args.bpftrace else None)):
                if argv is None:
                    continue
                ns, code, lines = timed(argv)
                if code != 0:
                    sys.exit("list.py: %s exited with %d" % (" ".join(argv), code))
                raw[title][name].append(ns)
                raw[title]["lines"][name] = lines
        print("run %d/%d done" % (run + 1, args.runs), file=sys.stderr)

    print("coretrace: %s; bpftrace: %s; %d runs, medians (min–max)\n" % (
        version([binary, "--version"]), version([args.bpftrace, "--version"]) if args.bpftrace else "absent",
        args.runs))
    print("| case | coretrace list (ms) | bpftrace -l (ms) | bpftrace / coretrace | hooks (coretrace / bpftrace) |")
    print("|---|---|---|---|---|")
    for title, _, _ in cases:
        r = raw[title]
        ours, theirs = r["coretrace"], r["bpftrace"]
        ratio = "%.1f" % (statistics.median(theirs) / statistics.median(ours)) if theirs else "—"
        print("| %s | %s | %s | %s | %s / %s |" % (
            title, fmt_cell(ours, 1e6, 1), fmt_cell(theirs, 1e6, 1), ratio,
            r["lines"].get("coretrace", "—"), r["lines"].get("bpftrace", "—")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
