#!/usr/bin/env python3
"""A thousand clients: svtree against Debian's runit (runsvdir -P), in one run.

Each system gets N clients (a nested supervisor, two leaf services, one leaving a setsid'd
process behind, each with a logger: svlog under svtree, svlogd under runit). Measured: time
from the N symlinks to every leaf running and logging (its first line in its log), a status read of everything (svctl status; sv
status of every service for runit), idle CPU and wakeups of the whole tree, PSS per client,
descriptors of the root, and SIGTERM of the root to the last process gone.

The inotify instance limit (fs.inotify.max_user_instances, 128 by default) is raised for the
run as svtree's sysctl.d drop-in does, and restored after; each svtree holds one.

With --supervise-in DIR every supervise/ is a symlink into DIR, as Debian's runit keeps them
in /run: the supervisors' status writes then go to a tmpfs, not to the tree's filesystem.
--work-dir DIR makes the trees there (a tmpfs measures the supervisors, not the disk). On ext4
without a journal a run started within minutes of a large deletion (a previous run's tree,
the test suite) is slowed by the inode allocator, which skips inodes freed in the last 60 to
300 s: the system that runs first pays for it, the second runs while the first's tree exists.

usage: scale-bench.py BIN_DIR [--clients N] [--idle-seconds S] [--systems svtree,runit]
                      [--work-dir DIR] [--supervise-in DIR]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import benchlib

def run(kind, base, bin_dir, clients, idle_seconds, supervise_in):
    tree = benchlib.Tree(kind, base, bin_dir, "svlog" if kind == "svtree" else "svlogd", supervise_in)
    for i in range(clients):
        tree.make_client(f"c{i}")
    tree.start_root()
    time.sleep(0.5)
    start = time.monotonic()
    for i in range(clients):
        os.symlink(tree.client_dir(f"c{i}"), f"{tree.enabled}/c{i}")
    names = [f"c{i}" for i in range(clients)]
    waiting = set(names)

    def all_up():
        # Each leaf's first line in its log: the leaf started and its logger wrote. A scan of
        # /proc (6000 processes) every 100 ms took a core of the two the tree starts on; two
        # stats a client still waiting cost next to nothing.
        waiting.difference_update([name for name in waiting if tree.leaves_logging(name)])
        return not waiting

    up = None if benchlib.wait_until(all_up, 300, interval=0.1) is None else time.monotonic() - start
    time.sleep(5)
    result = {"up": up}

    env = dict(os.environ, SVTREE_ROOT=tree.enabled)
    t = time.monotonic()
    if kind == "svtree":
        status = subprocess.run([f"{bin_dir}/svctl", "status"], env=env, capture_output=True, text=True)
        result["status_ok"] = status.returncode == 0 and status.stdout.count("\n") == clients
        result["status_code"] = status.returncode
    else:
        services = [f"{tree.client_dir(f'c{i}')}/services/{s}" for i in range(clients) for s in benchlib.SERVICES]
        status = subprocess.run(["sv", "status"] + services, capture_output=True, text=True)
        result["status_ok"] = status.stdout.count("run:") >= len(services)
        result["status_code"] = status.returncode
    result["status_s"] = time.monotonic() - t
    # Monitoring reads of everything: time and peak RSS of each command (runit's column: the
    # same sv status over every service, its nearest equivalent).
    if kind == "svtree":
        for name, argv in [("metrics", ["metrics"]), ("check", ["check"]), ("json", ["status", "--json"])]:
            result[name] = timed([f"{bin_dir}/svctl"] + argv, env)
    else:
        for name in ("metrics", "check", "json"):
            result[name] = timed(["sv", "status"] + services, env)

    pids = [pid for pid, _ in tree.processes()]
    result["processes"] = len(pids)
    before = benchlib.sample(pids)
    time.sleep(idle_seconds)
    after = benchlib.sample(pids)
    hz = os.sysconf("SC_CLK_TCK")
    result["wakeups"] = (after[0] - before[0]) / idle_seconds
    result["cpu"] = (after[1] - before[1]) / hz * 60 / idle_seconds
    result["pss"] = benchlib.pss(pids) / clients
    result["root_fds"] = len(os.listdir(f"/proc/{tree.root.pid}/fd"))

    start = time.monotonic()
    tree.root.send_signal(signal.SIGTERM if kind == "svtree" else signal.SIGHUP)

    def left():
        return [p for p, _, cwd in benchlib.processes() if benchlib.under(cwd, base)]

    result["teardown"] = benchlib.wait_until(lambda: not left(), 60, interval=0.1)
    result["left"] = len(left())
    tree.stop()
    return result


def timed(argv, env):
    """Seconds and peak RSS (kB) of one run of argv, its output discarded. The peak comes from
    GNU time (a small parent: a child forked from this Python would count its memory)."""
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.monotonic()
        subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%M"] + argv, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.monotonic() - start
        return seconds, int(report.read().split()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=30)
    parser.add_argument("--systems", default="svtree,runit")
    parser.add_argument("--work-dir", metavar="DIR", help="where the trees are made (default: the system's temporary directory)")
    parser.add_argument("--supervise-in", metavar="DIR",
                        help="every supervise/ a symlink into DIR (a tmpfs such as /run or /dev/shm), for both systems")
    args = parser.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    kinds = [k for k in args.systems.split(",") if k == "svtree" or shutil.which("runsvdir")]
    work = tempfile.mkdtemp(prefix="svtree-scale-", dir=args.work_dir)
    results = {}
    try:
        with benchlib.inotify_instances(4 * args.clients):
            for kind in kinds:
                print(f"{kind}: {args.clients} clients ...", file=sys.stderr, flush=True)
                results[kind] = run(kind, f"{work}/{kind}", bin_dir, args.clients, args.idle_seconds, args.supervise_in)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def monitoring(name):
        return lambda r: f"{r[name][0]:.2f} s, {r[name][1] / 1024:.1f} MB peak"

    def seconds(v):
        return "never" if v is None else f"{v:.2f} s"

    rows = [
        ("symlinks to every leaf logging", lambda r: seconds(r["up"]), lambda r: r["up"]),
        ("status of everything", lambda r: f"{r['status_s']:.2f} s ({'ok' if r['status_ok'] else 'INCOMPLETE'}, exit {r['status_code']})",
         lambda r: r["status_s"]),
        ("svctl metrics (runit: sv status)", monitoring("metrics"), lambda r: r["metrics"][0]),
        ("svctl check (runit: sv status)", monitoring("check"), lambda r: r["check"][0]),
        ("svctl status --json (runit: sv status)", monitoring("json"), lambda r: r["json"][0]),
        ("processes in the tree", lambda r: str(r["processes"]), lambda r: r["processes"]),
        ("idle wakeups/s", lambda r: f"{r['wakeups']:.2f}", lambda r: r["wakeups"]),
        ("idle CPU s/min", lambda r: f"{r['cpu']:.3f}", lambda r: r["cpu"]),
        ("PSS/client, everything", lambda r: f"{r['pss']:.0f} kB", lambda r: r["pss"]),
        ("descriptors of the root", lambda r: str(r["root_fds"]), lambda r: r["root_fds"]),
        ("SIGTERM (runit: HUP) to nothing left", lambda r: seconds(r["teardown"]), lambda r: r["teardown"]),
        ("processes left", lambda r: str(r["left"]), lambda r: r["left"]),
    ]
    # Each row's text and value read one system's results.
    rows = [(title, lambda k, text=text: text(results[k]), lambda k, value=value: value(results[k]))
            for title, text, value in rows]
    benchlib.print_table(f"metric ({args.clients} clients)", 38, kinds, 34, rows)


if __name__ == "__main__":
    main()
