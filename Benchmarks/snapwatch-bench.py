#!/usr/bin/env python3
"""snapwatch: time from a snapshot file being closed to the hook starting, idle wakeups, memory.

A snapshot file is written in place (as rclone's restic server does) into a repository's
snapshots/; the hook is a bash script that records $EPOCHREALTIME as its first act. The same
script started directly from here gives the hook's own start-up time, so snapwatch's share is
the difference. The old backup-syncd polled the listing every 60 s: its latency is not
measured (it would take hours) but follows from its period: 30 s on average, up to 120 s
(a change right after a poll waits a full period, and its sync script ran after the next).

usage: snapwatch-bench.py BIN_DIR [--rounds N] [--idle SECONDS]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import memory_kb, wait_until, wakeups

HOOK = """#!/bin/bash
echo "$EPOCHREALTIME $#" >> "{out}"
"""


def wall():
    return time.clock_gettime(time.CLOCK_REALTIME)


def read_lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def wait_lines(path, count, limit=10.0):
    if wait_until(lambda: len(read_lines(path)) >= count, limit, interval=0.001) is None:
        sys.exit(f"timed out waiting for line {count} of {path}")
    return read_lines(path)


def summary(values):
    values = sorted(values)
    return (statistics.median(values), values[int(len(values) * 0.95) - 1], values[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()
    args.bin_dir = os.path.abspath(args.bin_dir)  # the watcher runs in another directory
    work = tempfile.mkdtemp(prefix="snapwatch-bench-")
    out = f"{work}/hook.out"
    hook = f"{work}/hook"
    with open(hook, "w") as f:
        f.write(HOOK.format(out=out))
    os.chmod(hook, 0o755)

    # The hook's own start-up, spawned straight from here.
    direct = []
    for i in range(args.rounds):
        start = wall()
        subprocess.Popen([hook, "x"]).wait()
        direct.append((float(read_lines(out)[-1].split()[0]) - start) * 1000)
    os.unlink(out)

    os.makedirs(f"{work}/repo/snapshots")
    watcher = subprocess.Popen([f"{args.bin_dir}/snapwatch", "--repo", f"{work}/repo", "--hook", hook,
                                "--state", f"{work}/state"], cwd=work, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.2)  # its first listing (an empty folder)
        latencies = []
        for i in range(args.rounds):
            name = f"{work}/repo/snapshots/{i + 1:064x}"
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, b'{"time": "now"}')
            os.close(fd)
            closed = wall()
            line = wait_lines(out, i + 1)[i]
            latencies.append((float(line.split()[0]) - closed) * 1000)
            time.sleep(0.01)
        before = wakeups(watcher.pid)
        time.sleep(args.idle)
        idle = (wakeups(watcher.pid) - before) / args.idle
        pss, private = memory_kb(watcher.pid)
    finally:
        watcher.terminate()
        watcher.wait()
        subprocess.run(["rm", "-rf", work])

    median, p95, worst = summary(latencies)
    hook_median, _, _ = summary(direct)
    print(f"snapwatch, {args.rounds} snapshots written in place (close to hook start, ms):")
    print(f"  median {median:.2f}  p95 {p95:.2f}  max {worst:.2f}")
    print(f"  the hook's own start-up (bash, spawned directly): median {hook_median:.2f} ms;"
          f" snapwatch's share about {median - hook_median:.2f} ms")
    print(f"  goal: under 50 ms -> {'met' if p95 < 50 else 'MISSED'} (p95)")
    print(f"  backup-syncd (60 s polling): 30000 ms on average, up to 120000 ms:"
          f" {30000 / median:.0f}x the median here")
    print(f"idle wakeups over {args.idle:.0f} s: {idle:.2f}/s (backup-syncd: 1/60 s = 0.017/s); goal none ->"
          f" {'met' if idle == 0 else 'MISSED'}")
    print(f"snapwatch memory: PSS {pss} kB as the only copy, private dirty {private} kB"
          f" (what each further copy costs; the binary's pages are shared)")


if __name__ == "__main__":
    main()
