#!/usr/bin/env python3
"""profile benchmark: coretrace profile against bpftrace's profile probe doing the same job (Debian's libbpf-tools
package has no profile).

Run as root (python3 standard library only; needs gcc):  python3 bench/profile.py --runs 5 [--json FILE]

For each frequency (99 and 999 Hz, every CPU) and tracer, interleaved runs measure:
  start-up     exec until the ready line (coretrace's banner; bpftrace's "Attaching N probes...")
  overhead     % added to the wall time of bench/cpuburn.c (one thread per CPU, fixed work, frame pointers,
               several call paths) against an unprofiled run made just before
  exit         SIGINT until the tracer has exited: reading the stacks, symbolizing them and printing; divided by
               the unique stacks printed, the time per unique stack
  peak RSS     ru_maxrss of the tracer
The tracers: `coretrace profile -F HZ -f` (folded: one line per unique stack) and
`bpftrace -e 'profile:hz:HZ { @[ustack, kstack] = count(); }'`.
"""
import argparse, ctypes, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time

from harness import PR_SET_CHILD_SUBREAPER, Tracer, TracerError, fmt_cell, version

HERE = os.path.dirname(os.path.abspath(__file__))
CORETRACE_READY = b"Hit Ctrl-C to end."
BPFTRACE_READY = b"Attaching "
BPFTRACE_PROG = "profile:hz:%d { @[ustack, kstack] = count(); }"

MEASUREMENTS = [  # (title, key, divisor, decimals)
    ("start-up (ms)", "startup_ns", 1e6, 1),
    ("overhead on cpuburn (%)", "overhead_pct", 1, 2),
    ("exit incl. symbolization (ms)", "exit_ns", 1e6, 1),
    ("per unique stack (µs)", "exit_ns_per_stack", 1e3, 1),
    ("unique stacks", "stacks", 1, 0),
    ("peak RSS (MiB)", "maxrss_kib", 1024, 1),
]


def burn(binary, rounds):
    out = subprocess.run([binary, str(rounds)], capture_output=True, text=True, check=True, timeout=600).stdout
    return int(out.split("=")[1])


def count_stacks(name, text):
    if name == "coretrace":
        return sum(1 for line in text.splitlines() if line.strip())
    return text.count("]: ")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per tracer and frequency (default 5)")
    ap.add_argument("--coretrace", default=os.path.join(HERE, "..", "build", "bin", "coretrace"))
    ap.add_argument("--bpftrace", default="bpftrace")
    ap.add_argument("--frequencies", default="99,999")
    ap.add_argument("--seconds", type=float, default=3.0, help="untraced length of one cpuburn run (default 3)")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("profile.py: run as root")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("profile.py: prctl(PR_SET_CHILD_SUBREAPER) failed")
    freqs = [int(f) for f in args.frequencies.split(",")]
    versions = {"coretrace": version([os.path.normpath(args.coretrace), "--version"]),
                "bpftrace": version([args.bpftrace, "--version"])}
    notes, runs = [], []
    with tempfile.TemporaryDirectory(prefix="coretrace-bench-") as tmp:
        cb = os.path.join(tmp, "cpuburn")
        subprocess.run(["gcc", "-O1", "-fno-omit-frame-pointer", "-pthread", "-o", cb,
                        os.path.join(HERE, "cpuburn.c")], check=True)
        per_round = burn(cb, 200) / 200
        rounds = max(100, int(args.seconds * 1e9 / per_round))
        machine = {"nproc": os.cpu_count(), "kernel": os.uname().release, "loadavg_start": os.getloadavg(),
                   "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "rounds": rounds}
        for run in range(args.runs):
            for hz in freqs:
                tracers = [("coretrace", [os.path.normpath(args.coretrace), "profile", "-F", str(hz), "-f"],
                            CORETRACE_READY),
                           ("bpftrace", [args.bpftrace, "-e", BPFTRACE_PROG % hz], BPFTRACE_READY)]
                for name, argv, ready in tracers:
                    if not shutil.which(argv[0]):
                        continue
                    rec = {"tracer": name, "hz": hz, "run": run, "loadavg": os.getloadavg()[0]}
                    out_path = os.path.join(tmp, "out-%s-%d-%d" % (name, hz, run))
                    try:
                        base = burn(cb, rounds)
                        # coretrace's folded lines go to a file (its banner is on stderr); bpftrace prints
                        # its ready line and its map on stdout, which the pty collects.
                        with open(out_path, "wb") as out, Tracer(
                                argv, ready, stdout=out if name == "coretrace" else None) as tr:
                            rec["startup_ns"] = tr.wait_ready(args.timeout)
                            time.sleep(0.3)  # bpftrace announces just before attaching
                            traced = burn(cb, rounds)
                            rec["exit_ns"], rec["maxrss_kib"], rec["exit_code"] = tr.stop(args.timeout)
                            printed = tr.out.decode(errors="replace")
                    except (OSError, TracerError, subprocess.SubprocessError) as e:
                        notes.append("%s %d Hz run %d failed: %s" % (name, hz, run + 1, e))
                        continue
                    if name == "coretrace":
                        with open(out_path, errors="replace") as f:
                            printed = f.read()
                    rec["stacks"] = count_stacks(name, printed)
                    rec["base_ns"], rec["traced_ns"] = base, traced
                    rec["overhead_pct"] = 100.0 * (traced - base) / base
                    rec["exit_ns_per_stack"] = rec["exit_ns"] / max(1, rec["stacks"])
                    runs.append(rec)
                    print("run %d/%d %4d Hz %-10s" % (run + 1, args.runs, hz, name), "  ".join(
                        "%s %.*f" % (m[1], m[3], rec[m[1]] / m[2]) for m in MEASUREMENTS), file=sys.stderr)
        machine["loadavg_end"] = os.getloadavg()

    print("## profile: coretrace vs bpftrace\n")
    print("%s; %d CPUs; kernel %s; load average %.2f at start, %.2f at end; %d runs per tracer and frequency, "
          "interleaved; cpuburn %d rounds on every CPU (~%.0f s untraced).\n"
          % (machine["date"], machine["nproc"], machine["kernel"], machine["loadavg_start"][0],
             machine["loadavg_end"][0], args.runs, rounds, args.seconds))
    print("| tracer | Hz | " + " | ".join(m[0] for m in MEASUREMENTS) + " |")
    print("|---|---" + "|---" * len(MEASUREMENTS) + "|")
    for hz in freqs:
        by = {name: [r for r in runs if r["tracer"] == name and r["hz"] == hz] for name in ("coretrace", "bpftrace")}
        ref = {m[1]: statistics.median([r[m[1]] for r in by["coretrace"]]) / m[2]
               for m in MEASUREMENTS} if by["coretrace"] else {}
        for name, recs in by.items():
            if not recs:
                continue
            cells = [fmt_cell([r[m[1]] for r in recs], m[2], m[3],
                              None if name == "coretrace" or m[1] in ("overhead_pct", "stacks") else ref.get(m[1]))
                     for m in MEASUREMENTS]
            print("| %s (n=%d) | %d | %s |" % (name, len(recs), hz, " | ".join(cells)))
    print("\nCells: median (min–max), ×ratio of the median to coretrace's.")
    print("\n- Commands: `%s profile -F HZ -f` (%s); `%s -e '%s'` (%s)." % (
        os.path.normpath(args.coretrace), versions["coretrace"], args.bpftrace, BPFTRACE_PROG % 99,
        versions["bpftrace"]))
    print("- Both count each (user stack, kernel stack) in the kernel and symbolize at exit; coretrace also keys by "
          "process, so it can print more unique stacks for the same samples.")
    for note in notes:
        print("- " + note)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "versions": versions, "notes": notes, "runs": runs}, f, indent=1)
    return 0 if runs else 1


if __name__ == "__main__":
    sys.exit(main())
