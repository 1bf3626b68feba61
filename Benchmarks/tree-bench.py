#!/usr/bin/env python3
"""The nested tree, timed: svtree against Debian's runit (runsvdir -P) and s6, in one run.

Each system gets its own copy of the same tree: a root over enabled/, clients whose run
starts a nested supervisor over services/, two services (one leaves a setsid'd process
behind) with svlogd loggers. Prints a table with ratios, the memory of each kind of process,
and where one traced enable's time goes (enabletrace.py). Not a test: numbers, not verdicts.

usage: tree-bench.py BIN_DIR [--rounds N] [--clients N] [--idle-seconds S] [--logger L]
                     [--no-restarts] [--systems svtree,runit,s6]
"""
import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time

import benchlib
import enabletrace
from benchlib import LEAF, SERVICES, Tree, pss, processes, sample, wait_until


def enable_disable(tree, rounds, restarts=True):
    """Times ln -s to both leaves up, a kill -9 to the leaf restarted, and rm to nothing left.
    Each round's enable follows the previous round's teardown at once."""
    tree.make_client("c0")
    tree.start_root()
    try:
        return timed_rounds(tree, rounds, restarts)
    finally:
        tree.stop()


def timed_rounds(tree, rounds, restarts):
    time.sleep(0.3)
    link = f"{tree.enabled}/c0"
    result = {"enable": [], "restart": [], "teardown": [], "left": []}
    for _ in range(rounds):
        for service in SERVICES:  # a fresh log for each round: "up" is its first line
            shutil.rmtree(f"{tree.client_dir('c0')}/services/{service}/log/main", ignore_errors=True)
            os.makedirs(f"{tree.client_dir('c0')}/services/{service}/log/main")
        start = time.monotonic()
        os.symlink(tree.client_dir("c0"), link)
        tree.kick()
        up = wait_until(lambda: tree.leaves_logging("c0"), 15)
        result["enable"].append(None if up is None else time.monotonic() - start)
        if up is None:
            break
        wait_until(lambda: tree.leaves_running("c0"), 5)
        if restarts:
            restart(tree, result)
        else:
            time.sleep(0.2)
        start = time.monotonic()
        os.unlink(link)
        tree.kick()
        gone = wait_until(lambda: not tree.client_processes("c0"), 7)
        result["teardown"].append(gone)
        result["left"].append(len(tree.client_processes("c0")))
        tree.kill_client_leftovers("c0")
        if tree.kind != "svtree":
            time.sleep(0.2)
    return result


def restart(tree, result):
    """kill -9 of the storage leaf to its next line in the log."""
    time.sleep(1.2)  # the leaf has run a while: this is a crash, not a crash loop
    leaf_dir = f"{tree.client_dir('c0')}/services/storage"
    victim = next(pid for pid, cmdline, cwd in processes() if cmdline == LEAF and cwd == leaf_dir)
    logged = tree.log_size("c0", "storage")
    os.kill(victim, signal.SIGKILL)
    result["restart"].append(wait_until(lambda: tree.log_size("c0", "storage") > logged, 15))


def idle_and_memory(tree, clients, seconds):
    """With `clients` enabled and settled: wakeups and CPU of the supervisors, PSS per client."""
    for i in range(clients):
        tree.make_client(f"c{i}")
        os.symlink(tree.client_dir(f"c{i}"), f"{tree.enabled}/c{i}")
    tree.start_root()
    time.sleep(0.3)
    tree.kick()
    wait_until(lambda: all(tree.leaves_running(f"c{i}", table) for table in [processes()]
                           for i in range(clients)), 60)
    time.sleep(3)
    supervisors = {"svtree": {b"svtree"}, "runit": {b"runsvdir", b"runsv"},
                   "s6": {b"s6-svscan", b"s6-supervise"}}[tree.kind]
    table = tree.processes()
    sup = [pid for pid, cmdline in table if benchlib.program(cmdline) in supervisors]
    loggers = [pid for pid, cmdline in table if benchlib.program(cmdline) in (b"svlogd", b"svlog", b"s6-log")]

    before = sample(sup)
    time.sleep(seconds)
    after = sample(sup)
    hz = os.sysconf("SC_CLK_TCK")

    result = {
        "kinds": process_kinds(tree, table),
        "wakeups": (after[0] - before[0]) / seconds,
        "cpu": (after[1] - before[1]) / hz * 60 / seconds,
        "pss_supervisors": pss(sup) / clients,
        "pss_all": (pss(sup) + pss(loggers)) / clients,
        "supervisor_processes": len(sup),
    }
    tree.stop()
    return result


def process_kinds(tree, table):
    """{kind: (count, mean PSS kB, mean private dirty kB)}: the root, the client-level
    supervisors, the per-service supervisors and the loggers, each kind on its own."""
    groups = {}
    for pid, cmdline in table:
        name = benchlib.program(cmdline).decode()
        if name not in ("svtree", "runsvdir", "runsv", "s6-svscan", "s6-supervise", "svlog", "svlogd", "s6-log"):
            continue
        if name in ("svtree", "runsvdir", "s6-svscan"):
            name += " root" if pid == tree.root.pid else " client"
        try:
            fields = benchlib.smaps_rollup(pid)
        except OSError:
            continue
        groups.setdefault(name, []).append((fields.get("Pss", 0), fields.get("Private_Dirty", 0)))
    return {name: (len(v), sum(p for p, _ in v) / len(v), sum(d for _, d in v) / len(v))
            for name, v in sorted(groups.items())}


def fmt_ms(values):
    if not values:
        return "not measured"
    got = [v for v in values if v is not None]
    if not got:
        return "never"
    text = f"{statistics.median(got) * 1000:.1f} ms (max {max(got) * 1000:.1f})"
    missed = len(values) - len(got)
    return text + (f", {missed} never" if missed else "")


def median_ms(values):
    got = [v for v in values if v is not None]
    return statistics.median(got) * 1000 if got else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--idle-seconds", type=float, default=20)
    parser.add_argument("--no-restarts", action="store_true",
                        help="leave out the kill -9 step: enables and teardowns back to back")
    parser.add_argument("--systems", default="svtree,runit,s6", help="comma-separated; svtree always runs")
    parser.add_argument("--logger", default="svlogd", choices=["svlogd", "svlog", "shipped"],
                        help="the loggers of every tree: one for all systems, or each its own")
    args = parser.parse_args()
    wanted = args.systems.split(",")
    kinds = ["svtree"] + [k for k in ("runit", "s6") if k in wanted and shutil.which({"runit": "runsvdir", "s6": "s6-svscan"}[k])]
    work = tempfile.mkdtemp(prefix="svtree-bench-")
    bin_dir = os.path.abspath(args.bin_dir)
    timing, idle = {}, {}
    try:
        for kind in kinds:
            print(f"timing {kind} ...", file=sys.stderr, flush=True)
            timing[kind] = enable_disable(Tree(kind, f"{work}/{kind}-t", bin_dir, args.logger), args.rounds,
                                          restarts=not args.no_restarts)
        for kind in kinds:
            print(f"idle {kind} with {args.clients} clients ...", file=sys.stderr, flush=True)
            idle[kind] = idle_and_memory(Tree(kind, f"{work}/{kind}-i", bin_dir, args.logger), args.clients,
                                         args.idle_seconds)
        print("one traced enable ...", file=sys.stderr, flush=True)
        breakdown = enabletrace.traced_enable(bin_dir, args.logger, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = [
        ("enable: ln -s to both leaves logging", lambda k: fmt_ms(timing[k]["enable"]),
         lambda k: median_ms(timing[k]["enable"])),
        ("kill -9 of a leaf to its next line", lambda k: fmt_ms(timing[k]["restart"]),
         lambda k: median_ms(timing[k]["restart"])),
        ("teardown: rm to last process gone", lambda k: fmt_ms(timing[k]["teardown"]),
         lambda k: median_ms(timing[k]["teardown"])),
        ("processes left 7 s after rm", lambda k: str(max(timing[k]["left"] or [0])),
         lambda k: max(timing[k]["left"] or [0])),
        (f"idle wakeups/s, {args.clients} clients", lambda k: f"{idle[k]['wakeups']:.2f}",
         lambda k: idle[k]["wakeups"]),
        (f"idle CPU s/min, {args.clients} clients", lambda k: f"{idle[k]['cpu']:.3f}",
         lambda k: idle[k]["cpu"]),
        ("PSS/client, supervisors", lambda k: f"{idle[k]['pss_supervisors']:.0f} kB",
         lambda k: idle[k]["pss_supervisors"]),
        ("PSS/client, with loggers", lambda k: f"{idle[k]['pss_all']:.0f} kB",
         lambda k: idle[k]["pss_all"]),
    ]
    print("s6 enables and tears down only when kicked (s6-svscanctl -an): its figures include the kick.")
    benchlib.print_table("metric", 36, kinds, 26, rows)
    print(f"\nMemory per process, {args.clients} clients (PSS shares the binaries' pages among copies; "
          "private dirty is what each further copy adds):")
    for kind in kinds:
        for name, (count, pss_kb, private_kb) in idle[kind]["kinds"].items():
            print(f"  {kind:7} {name:18} x{count:<4} PSS {pss_kb:6.0f} kB  private dirty {private_kb:6.0f} kB")
    enabletrace.report(breakdown)


if __name__ == "__main__":
    main()
