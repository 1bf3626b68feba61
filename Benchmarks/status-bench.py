#!/usr/bin/env python3
"""Status reads: `svctl status` against Debian's `sv status` of the same services, in one run.

Each system gets N clients of tree-bench's shape (a nested supervisor, two leaf services, each
with a logger). Timed with `perf stat -r`, which forks and execs the command itself (no shell,
no Python in the figure): the status of one client (`svctl status c0`; `sv status` of its two
service directories, which reads their loggers' too) and of every client. The system calls
of one read are counted with `strace -c -f`.

usage: status-bench.py BIN_DIR [--clients N] [--repeat R]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import benchlib


def perf_ms(argv, repeat, env):
    """Mean wall time of one run of argv in ms, and its spread in %."""
    out = subprocess.run(["perf", "stat", "-r", str(repeat), "-x", ",", "-e", "duration_time", "--"] + argv,
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr
    for line in out.splitlines():
        fields = line.split(",")
        if len(fields) > 3 and fields[2] == "duration_time":
            spread = fields[3].rstrip("%") if fields[3].endswith("%") else "?"
            return float(fields[0]) / 1e6, spread
    raise RuntimeError(f"perf stat printed no duration_time: {out}")


def syscalls(argv, env):
    out = subprocess.run(["strace", "-f", "-c", "-o", "/dev/stderr", "--"] + argv, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr
    # The summary's last line: "100.00  SECONDS  USECS/CALL  CALLS  [ERRORS]  total".
    totals = [line.split() for line in out.splitlines() if line.rstrip().endswith(" total")]
    return int(totals[-1][3]) if totals and len(totals[-1]) >= 5 else None


def measure(kind, base, bin_dir, clients, repeat):
    tree = benchlib.Tree(kind, base, bin_dir, "shipped")
    try:
        for i in range(clients):
            tree.make_client(f"c{i}")
        tree.start_root()
        for i in range(clients):
            os.symlink(tree.client_dir(f"c{i}"), f"{tree.enabled}/c{i}")
        names = [f"c{i}" for i in range(clients)]
        if benchlib.wait_until(lambda: all(tree.leaves_logging(n) for n in names), 120, interval=0.1) is None:
            raise RuntimeError(f"{kind}: not every leaf and logger came up")
        env = dict(os.environ, SVTREE_ROOT=tree.enabled)
        if kind == "svtree":
            one, every = [f"{bin_dir}/svctl", "status", "c0"], [f"{bin_dir}/svctl", "status"]
        else:
            dirs = [f"{tree.client_dir(n)}/services/{s}" for n in names for s in benchlib.SERVICES]
            one, every = ["sv", "status"] + dirs[:len(benchlib.SERVICES)], ["sv", "status"] + dirs
        def all_ok():
            check = subprocess.run(every, env=env, capture_output=True, text=True)
            if kind == "svtree":
                return check.returncode == 0 and check.stdout.count("\n") == clients
            return check.stdout.count("run:") >= 2 * len(benchlib.SERVICES) * clients

        # A status read as soon as the loggers wrote may still see a supervisor settling.
        if benchlib.wait_until(all_ok, 30, interval=0.5) is None:
            raise RuntimeError(f"{kind}: the status read never said every client is ok")
        return {"one": perf_ms(one, repeat, env), "every": perf_ms(every, max(3, repeat // 10), env),
                "one_calls": syscalls(one, env), "every_calls": syscalls(every, env)}
    finally:
        tree.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    args.bin_dir = os.path.abspath(args.bin_dir)
    for tool in ("perf", "strace", "sv", "runsvdir"):
        if shutil.which(tool) is None:
            sys.exit(f"status-bench.py: {tool} is needed (make bench installs it)")
    base = tempfile.mkdtemp(prefix="status-bench.")
    try:
        with benchlib.inotify_instances(4 * args.clients):
            results = {kind: measure(kind, f"{base}/{kind}", args.bin_dir, args.clients, args.repeat)
                       for kind in ("svtree", "runit")}
    finally:
        shutil.rmtree(base, ignore_errors=True)
    s, r = results["svtree"], results["runit"]
    print(f"status reads, {args.clients} clients (perf stat wall, mean ± spread; system calls of one read):")
    rows = [("status of one client", "one", "one_calls", "ms"), (f"status of all {args.clients}", "every", "every_calls", "ms")]
    for label, key, calls, unit in rows:
        (a, da), (b, db) = s[key], r[key]
        print(f"  {label:<24} svctl {a:8.2f} {unit} ±{da:>5}%  sv {b:8.2f} {unit} ±{db:>5}%  "
              f"{benchlib.ratio(a, b):>6}   calls {s[calls]} vs {r[calls]}")


if __name__ == "__main__":
    main()
