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
import argparse, ctypes, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time

from harness import PR_SET_CHILD_SUBREAPER, Tracer, TracerError, bpf_prog_ids, fmt_cell, version, wait_gone

HERE = os.path.dirname(os.path.abspath(__file__))
CPUDIST_READY = b"Tracing on-CPU time... Hit Ctrl-C to end."
BPFTRACE_READY = b"Attaching "  # "Attaching 2 probes..." (sched_switch + END); printed just before attaching
BPFTRACE_PROG = ("tracepoint:sched:sched_switch { if (@start[args->prev_pid]) { "
                 "@usecs = hist((nsecs - @start[args->prev_pid]) / 1000); } "
                 "@start[args->next_pid] = nsecs; } END { clear(@start); }")


def pingpong(binary, round_trips, cpu):
    out = subprocess.run([binary, str(round_trips), str(cpu)], capture_output=True, text=True, check=True,
                         timeout=300).stdout
    return {k: float(v) for k, v in (f.split("=") for f in out.split())}


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
