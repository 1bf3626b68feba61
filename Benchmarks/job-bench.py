#!/usr/bin/env python3
"""Jobs at scale: N jobs (default 1000, a daily audit per client) spread over a window, as
svtree runs them and as a runit user would without cron (one runsv per job whose run sleeps
to its offset, then loops `job; sleep 1d`: the usual snooze-style answer).

svtree: one svtree over N job directories, `schedule` = `every 1d`, `schedule-spread` = the
window. A job never run starts once its spread offset after svtree starts, so the first runs
show the spread itself, scaled down from the template's 2 h to --window seconds.
Printed: the start-time histogram (10 buckets of the window: the fullest holds how many times
its share), svtree's CPU per run, wakeups of the whole scheduler over an idle stretch after the
runs, and memory per job between runs.

Debian's cron, when installed and not already running, runs the same `true` N times in one
minute (it has no spread: every job starts at the minute): its CPU per run, own and children's.

usage: job-bench.py BIN_DIR [--jobs N] [--window S] [--idle-seconds S] [--systems svtree,runit,cron]
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import pss, sample, wait_until, write

JOB = "#!/bin/sh\nexec true\n"


def last_run_start(directory):
    """start_ns from the job's last-run file once a run has ended there, else None."""
    try:
        with open(directory + "/last-run") as f:
            fields = dict(line.split(" ", 1) for line in f.read().splitlines() if " " in line)
    except OSError:
        return None
    return int(fields["start_ns"]) if "duration_ms" in fields else None


def histogram(offsets, window, buckets=10):
    counts = [0] * buckets
    for offset in offsets:
        counts[min(buckets - 1, max(0, int(offset / window * buckets)))] += 1
    return counts


def run_svtree(bin_dir, base, jobs, window, idle):
    for i in range(jobs):
        d = f"{base}/jobs/j{i}"
        write(d + "/run", JOB, executable=True)
        write(d + "/schedule", "every 1d\n")
        write(d + "/schedule-spread", f"{int(window)}s\n")  # whole seconds: "20.0s" is no duration
    start_wall = time.time_ns()
    root = subprocess.Popen([bin_dir + "/svtree", base + "/jobs"], stdout=subprocess.DEVNULL,
                            stderr=open(base + "/svtree.err", "w"))
    result = {}
    try:
        directories = [f"{base}/jobs/j{i}" for i in range(jobs)]
        # CPU per run counts from the end of the start-up (every supervise/ made), and only
        # the runs that started after it.
        wait_until(lambda: all(os.path.exists(d + "/supervise/status") for d in directories), 60, interval=0.05)
        before, counted_from = benchlib.cpu_ticks_with_children(root.pid), time.time_ns()
        done = wait_until(lambda: all(last_run_start(d) for d in directories), window + 60, interval=0.5)
        after = benchlib.cpu_ticks_with_children(root.pid)
        if done is None:
            print("svtree: not every job ran within the window", file=sys.stderr)
            return None
        offsets = [(last_run_start(d) - start_wall) / 1e9 for d in directories]
        result["histogram"] = histogram(offsets, window)
        counted = sum(1 for d in directories if last_run_start(d) > counted_from)
        result["cpu_ms_per_run"] = ((after - before) * 1000 / os.sysconf("SC_CLK_TCK") / counted) if counted else None
        idle_before = sample([root.pid])
        time.sleep(idle)
        idle_after = sample([root.pid])
        result["idle_wakeups"] = idle_after[0] - idle_before[0]
        result["pss_per_job"] = pss([root.pid]) / jobs
        result["processes_between_runs"] = 1
    finally:
        root.terminate()
        root.wait(timeout=60)
    return result


def run_runit(base, jobs, window, idle):
    rng = random.Random(1)
    for i in range(jobs):
        offset = rng.uniform(0, window)
        write(f"{base}/jobs/j{i}/run",
              f"#!/bin/sh\nsleep {offset:.3f}\nwhile :; do date +%s%N > ./ran; sleep 86400; done\n", executable=True)
    start_wall = time.time_ns()
    root = subprocess.Popen(["runsvdir", "-P", base + "/jobs"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = {}

    def ours():
        return [pid for pid, _, cwd in benchlib.processes() if benchlib.under(cwd, base + "/jobs")] + [root.pid]
    try:
        files = [f"{base}/jobs/j{i}/ran" for i in range(jobs)]
        done = wait_until(lambda: all(os.path.exists(f) for f in files), window + 60, interval=0.5)
        if done is None:
            print("runit: not every job ran within the window", file=sys.stderr)
            return None
        offsets = []
        for f in files:
            with open(f) as handle:
                offsets.append((int(handle.read().strip() or 0) - start_wall) / 1e9)
        result["histogram"] = histogram(offsets, window)
        result["cpu_ms_per_run"] = None
        pids = ours()
        idle_before = sample(pids)
        time.sleep(idle)
        idle_after = sample(pids)
        result["idle_wakeups"] = idle_after[0] - idle_before[0]
        result["pss_per_job"] = pss(pids) / jobs
        result["processes_between_runs"] = len(pids)
    finally:
        root.terminate()
        root.wait(timeout=60)
        benchlib.kill_until_gone(lambda: [p for p, _, cwd in benchlib.processes() if benchlib.under(cwd, base)], 0.2)
    return result


CRON_FILE = "/etc/cron.d/svtree-job-bench"


def run_cron(jobs, idle):
    """Debian's cron in the foreground with the same `true` N times a minute (cron's finest
    step): CPU per run, its own and its children's, over one minute boundary; then idle."""
    if not os.path.exists("/usr/sbin/cron"):
        print("cron: not installed (apt install cron), left out", file=sys.stderr)
        return None
    if subprocess.run(["pgrep", "-x", "cron"], capture_output=True).returncode == 0:
        print("cron: a cron daemon runs already, left out (its jobs would count)", file=sys.stderr)
        return None
    with open(CRON_FILE, "w") as f:
        f.write("".join("* * * * * root true\n" for _ in range(jobs)))
    cron = subprocess.Popen(["/usr/sbin/cron", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = {"histogram": [jobs] + [0] * 9, "processes_between_runs": 1}
    try:
        time.sleep(2)
        # From just after one minute boundary to just after the next: one run of each job.
        time.sleep(60 - time.time() % 60 + 5)
        before = benchlib.cpu_ticks_with_children(cron.pid)
        time.sleep(60)
        after = benchlib.cpu_ticks_with_children(cron.pid)
        result["cpu_ms_per_run"] = (after - before) * 1000 / os.sysconf("SC_CLK_TCK") / jobs
        # Idle: cron wakes every minute whether or not anything is due.
        idle_before = sample([cron.pid])
        time.sleep(idle)
        result["idle_wakeups"] = sample([cron.pid])[0] - idle_before[0]
        result["pss_per_job"] = pss([cron.pid]) / jobs
    finally:
        os.unlink(CRON_FILE)
        cron.terminate()
        cron.wait(timeout=30)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--window", type=float, default=60, help="the spread, seconds (the template's is 2 h)")
    parser.add_argument("--idle-seconds", type=float, default=30)
    parser.add_argument("--systems", default="svtree,runit,cron")
    args = parser.parse_args()
    kinds = args.systems.split(",")
    results = {}
    for kind in kinds:
        base = tempfile.mkdtemp(prefix=f"job-bench-{kind}-")
        try:
            print(f"{kind}: {args.jobs} jobs over {args.window:g} s ...", flush=True)
            if kind == "svtree":
                results[kind] = run_svtree(os.path.abspath(args.bin_dir), base, args.jobs, args.window, args.idle_seconds)
            elif kind == "cron":
                results[kind] = run_cron(args.jobs, args.idle_seconds)
            else:
                results[kind] = run_runit(base, args.jobs, args.window, args.idle_seconds)
        finally:
            shutil.rmtree(base, ignore_errors=True)
    results = {k: v for k, v in results.items() if v}
    kinds = [k for k in kinds if k in results]
    if "svtree" not in results:
        sys.exit("job-bench: svtree gave no figures")
    share = args.jobs / 10

    def fullest(k):
        return max(results[k]["histogram"]) / share

    for k in kinds:
        print(f"{k:8} starts per tenth of the window: {results[k]['histogram']}")
    rows = [
        ("fullest tenth of the window / its share", lambda k: f"{fullest(k):.2f}", fullest),
        ("CPU per run to its exit, scheduler and job (ms)", lambda k: "-" if results[k]["cpu_ms_per_run"] is None
         else f"{results[k]['cpu_ms_per_run']:.2f}", lambda k: results[k]["cpu_ms_per_run"]),
        (f"wakeups in {args.idle_seconds:g} s idle", lambda k: str(results[k]["idle_wakeups"]),
         lambda k: results[k]["idle_wakeups"]),
        ("PSS per job between runs (kB)", lambda k: f"{results[k]['pss_per_job']:.0f}", lambda k: results[k]["pss_per_job"]),
        ("processes between runs", lambda k: str(results[k]["processes_between_runs"]),
         lambda k: results[k]["processes_between_runs"]),
    ]
    benchlib.print_table(f"metric ({args.jobs} jobs)", 42, kinds, 12, rows)


if __name__ == "__main__":
    main()
