#!/usr/bin/env python3
"""biolatency benchmark: the cost per block request under an O_DIRECT load, coretrace against libbpf-tools.

Run as root (python3 standard library only):  python3 bench/biolatency.py --runs 5 [--ios 4000] [--json FILE]

The load reads 4 KiB blocks with O_DIRECT at random offsets of a 64 MiB file under /var/tmp (on the root disk),
one request at a time, so each read is one block request (insert, issue, completion). Runs are interleaved: an
untraced load, then the same load with each tracer attached (coretrace's `biolatency`, Debian's libbpf-tools
`/usr/sbin/biolatency` when it runs here). Per run:
  added us/IO   the load's time per read with the tracer attached minus the untraced run just before
  start-up ms   from exec until the tracer printed its ready line
  peak RSS MiB  the tracer's ru_maxrss
Other processes' I/O on the same disk adds noise; medians (min-max) are printed as a Markdown table.
"""
import argparse, json, mmap, os, random, statistics, sys, time

from harness import PR_SET_CHILD_SUBREAPER, Tracer, TracerError, fmt_cell, version

HERE = os.path.dirname(os.path.abspath(__file__))
FILE_SIZE = 64 << 20
BLOCK = 4096


def make_file(path):
    with open(path, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(FILE_SIZE >> 20):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())


def load(path, ios, seed):
    """Seconds per O_DIRECT read of one block at random offsets."""
    rng = random.Random(seed)
    buf = mmap.mmap(-1, BLOCK)  # page-aligned, as O_DIRECT needs
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        offsets = [rng.randrange(FILE_SIZE // BLOCK) * BLOCK for _ in range(ios)]
        t0 = time.perf_counter()
        for off in offsets:
            if os.preadv(fd, [buf], off) != BLOCK:
                raise RuntimeError("short O_DIRECT read")
        return (time.perf_counter() - t0) / ios
    finally:
        os.close(fd)
        buf.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ios", type=int, default=4000)
    ap.add_argument("--json")
    ap.add_argument("--coretrace", default=os.path.join(HERE, "..", "build", "bin", "coretrace"))
    ap.add_argument("--libbpf-tools", default="/usr/sbin/biolatency")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    tracers = [("coretrace", [os.path.normpath(args.coretrace), "biolatency"])]
    if os.access(args.libbpf_tools, os.X_OK):
        tracers.append(("libbpf-tools", [args.libbpf_tools]))
    path = "/var/tmp/coretrace-bench-biolatency-%d" % os.getpid()
    results = {name: [] for name, _ in tracers}
    try:
        make_file(path)
        load(path, 500, 0)  # warm up
        for run in range(args.runs):
            for name, argv in tracers:
                base = load(path, args.ios, run)
                try:
                    with Tracer(argv, b"Hit Ctrl-C") as tracer:
                        ready_ns = tracer.wait_ready(30)
                        traced = load(path, args.ios, run)
                        _, maxrss, code = tracer.stop(10)
                except TracerError as e:
                    print("%s: %s" % (name, e), file=sys.stderr)
                    continue
                results[name].append({"added_us_per_io": (traced - base) * 1e6, "base_us_per_io": base * 1e6,
                                      "startup_ms": ready_ns / 1e6, "maxrss_kib": maxrss, "exit": code})
    finally:
        if os.path.exists(path):
            os.unlink(path)

    print("## biolatency: cost per block request under an O_DIRECT 4 KiB random-read load\n")
    print("coretrace: %s; libbpf-tools: %s; %d runs of %d reads\n" % (
        version([tracers[0][1][0], "--version"]),
        version([args.libbpf_tools, "--version"]) if len(tracers) > 1 else "not run", args.runs, args.ios))
    print("| tracer | untraced us/IO | added us/IO | start-up ms | peak RSS MiB |")
    print("|---|---|---|---|---|")
    for name, _ in tracers:
        rs = results[name]
        print("| %s | %s | %s | %s | %s |" % (
            name, fmt_cell([r["base_us_per_io"] for r in rs], 1, 1), fmt_cell([r["added_us_per_io"] for r in rs], 1, 2),
            fmt_cell([r["startup_ms"] for r in rs], 1, 1), fmt_cell([r["maxrss_kib"] for r in rs], 1024, 1)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
