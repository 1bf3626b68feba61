#!/usr/bin/env python3
"""Fault injection on a live tree: SIGKILL storms, enable/disable storms, misbehaving services.

A root svtree over N clients, each a client svtree over four services with svlog loggers:
  counter   writes "RUN n" lines as fast as the shell can, 300000 a run (RUN: a fresh id per start)
  crasher   exits at once, forever (svtree's backoff keeps it cheap)
  stubborn  ignores SIGTERM (timeout-kill 300 ms: SIGKILL ends it)
  forker    starts 100 children and waits (a child the storm kills is not replaced)
Then: SIGKILL of random client svtrees, services and loggers; random enable/disable of
clients; and at the end, with every client enabled again and the tree settled, checks:
  - exactly the enabled clients run, each service once (one run process per service);
  - no zombie and no orphan (nothing marked by the tree outside it, nothing of a disabled client);
  - no leaked descriptor: every svtree holds as many as at the start;
  - the counter logs are complete: for each RUN id, lines 1..last with no gap.
Exit status 0 when everything holds, 1 otherwise (each failure printed).

usage: chaos.py BIN_DIR [--clients N] [--kills N] [--storm N] [--seed N] [--long-line-mb N]
"""
import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SERVICES = {
    # A flood of 300000 lines per run (bounded, so that a long run does not fill the disk).
    "counter": 'RUN=$$-$(date +%s%N); n=0; while [ $n -lt 300000 ]; do n=$((n+1)); echo "$RUN $n"; done; exec sleep 100000',
    "crasher": "exit 3",
    "stubborn": "trap '' TERM; while :; do sleep 1; done",
    "forker": "i=0; while [ $i -lt 100 ]; do sleep 100000 & i=$((i+1)); done; wait",
}


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def make_client(base, bin_dir, name):
    top = f"{base}/clients/{name}"
    write(f"{top}/run", f"#!/bin/sh\nexec 2>&1\nexec {bin_dir}/svtree services\n", 0o755)
    for service, body in SERVICES.items():
        write(f"{top}/services/{service}/run", f"#!/bin/sh\nexec 2>&1\n{body}\n", 0o755)
        write(f"{top}/services/{service}/log/run", f"#!/bin/sh\nexec {bin_dir}/svlog ./main\n", 0o755)
        os.makedirs(f"{top}/services/{service}/log/main", exist_ok=True)
        # Small files: rotation happens often under the counter's flood; none is deleted (n0).
        write(f"{top}/services/{service}/log/main/config", "s1000000\nn0\n")
    write(f"{top}/services/stubborn/timeout-kill", "300\n")


def table():
    """pid -> (ppid, state, marker or None, cmdline)"""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        marker = next((e[len(b"SVTREE_SERVICE="):].decode() for e in env if e.startswith(b"SVTREE_SERVICE=")), None)
        found[pid] = (int(fields[1]), fields[0], marker, cmdline)
    return found


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def settle(condition, limit):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--kills", type=int, default=300)
    parser.add_argument("--storm", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--long-line-mb", type=int, default=0, help="also feed svlog one line this long")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    # Said first, so that a failing run can be replayed with --seed.
    print(f"chaos: seed {args.seed}", flush=True)
    bin_dir = os.path.abspath(args.bin_dir)
    base = tempfile.mkdtemp(prefix="svtree-chaos-")
    enabled_dir = f"{base}/enabled"
    os.makedirs(enabled_dir)
    names = [f"c{i}" for i in range(args.clients)]
    for name in names:
        make_client(base, bin_dir, name)
    failures = []
    root = subprocess.Popen([f"{bin_dir}/svtree", enabled_dir], stdout=subprocess.DEVNULL,
                            stderr=open(f"{base}/root.err", "w"), start_new_session=True)

    def client_path(name):
        return f"{base}/clients/{name}"

    def client_svtrees(procs):
        return {pid: info for pid, info in procs.items()
                if info[0] == root.pid and info[3].endswith("svtree services")}

    def client_svtree_pids(procs):
        return {pid for pid, info in procs.items() if info[3].endswith("svtree services")}

    def service_runs(procs, name, service):
        """Processes started by the client svtree as the service's run (its direct children)."""
        path = f"{client_path(name)}/services/{service}"
        parents = {pid for pid, info in procs.items() if info[2] == client_path(name) and info[3].endswith("svtree services")}
        return [pid for pid, info in procs.items() if info[2] == path and info[0] in parents and info[1] != "Z"]

    def all_up():
        procs = table()
        return all(len(service_runs(procs, n, s)) == 1 for n in names for s in ("counter", "stubborn", "forker"))

    try:
        for name in names:
            os.symlink(client_path(name), f"{enabled_dir}/{name}")
        if not settle(all_up, 60):
            failures.append("the tree did not come up")
        # A spawn holds a few descriptors for a moment (the cgroup, clone3's report pipe), and
        # the crasher is always being spawned: counts are each process's least over a few looks,
        # so a leak is a count that stays.
        def steady_fds(pid):
            counts = []
            for _ in range(5):
                counts.append(fd_count(pid))
                time.sleep(0.05)
            return min(counts)

        # Every client svtree's count, sorted: a set of counts would not see one svtree
        # holding one more than the others while another already did.
        def client_fds_now():
            return sorted(steady_fds(pid) for pid in client_svtrees(table()))

        time.sleep(1)
        baseline_root_fds = steady_fds(root.pid)
        baseline_client_fds = client_fds_now()

        # Kill storm: supervisors, services, loggers at random.
        kinds = {"client svtree": 0, "service": 0, "service's child": 0, "logger": 0}
        children_killed = {}  # parent pid -> how many of its children the storm killed
        attempts = 0
        while sum(kinds.values()) < args.kills and attempts < args.kills * 20:
            attempts += 1
            procs = table()
            kind = rng.choice(["client svtree", "service", "logger"])
            if kind == "client svtree":
                pool = list(client_svtrees(procs))
            elif kind == "service":
                # A run itself mostly; now and then one of its children (the forker's), so
                # that 100 sleeping children do not take nearly every service kill.
                marked = [pid for pid, info in procs.items() if info[2] and info[2].startswith(base + "/")
                          and "/services/" in info[2] and not info[2].endswith("/log") and info[1] != "Z"]
                runs = [pid for pid in marked if procs[pid][0] in client_svtree_pids(procs)]
                pool = runs if rng.random() < 0.75 else [pid for pid in marked if pid not in runs]
                if pool is not runs:
                    kind = "service's child"
            else:
                pool = [pid for pid, info in procs.items() if info[3].startswith(f"{bin_dir}/svlog") and info[2]
                        and info[2].startswith(base)]
            if pool:
                victim = rng.choice(pool)
                try:
                    os.kill(victim, signal.SIGKILL)
                    kinds[kind] += 1
                    # A killed child of a living forker is not replaced (the forker only
                    # waits): the check at the end expects that many fewer.
                    children_killed[procs[victim][0]] = children_killed.get(procs[victim][0], 0) + 1
                except ProcessLookupError:
                    pass  # it exited since the look (the crasher does, all the time)
            time.sleep(rng.uniform(0, 0.02))

        # Enable/disable storm.
        operations = 0
        for _ in range(args.storm):
            name = rng.choice(names)
            link = f"{enabled_dir}/{name}"
            if os.path.islink(link):
                os.unlink(link)
            else:
                os.symlink(client_path(name), link)
            operations += 1
            if rng.random() < 0.05:
                time.sleep(rng.uniform(0, 0.05))

        # Settle with a random subset disabled: nothing of those may run.
        disabled = {n for n in names if not os.path.islink(f"{enabled_dir}/{n}")}

        def subset_settled():
            procs = table()
            for n in disabled:
                if any(info[2] and (info[2] == client_path(n) or info[2].startswith(client_path(n) + "/"))
                       for info in procs.values() if info[1] != "Z"):
                    return False
            return all(len(service_runs(procs, n, s)) == 1 for n in names if n not in disabled
                       for s in ("counter", "stubborn", "forker"))

        if not settle(subset_settled, 90):
            procs = table()
            left = sorted({n for n in disabled for info in procs.values()
                           if info[2] and info[2].startswith(client_path(n))})
            failures.append(f"after the storm: disabled clients still running {left[:5]}, or enabled ones not up")

        for name in disabled:
            os.symlink(client_path(name), f"{enabled_dir}/{name}")
        def forker_children(procs, name):
            """(children of the client's forker run, how many it should have), or None."""
            forker = service_runs(procs, name, "forker")
            if len(forker) != 1:
                return None
            children = [p for p, info in procs.items() if info[0] == forker[0] and info[1] != "Z"]
            return len(children), 100 - children_killed.get(forker[0], 0)

        def settled():
            procs = table()
            if not all(len(service_runs(procs, n, s)) == 1 for n in names for s in ("counter", "stubborn", "forker")):
                return False
            counts = [forker_children(procs, n) for n in names]
            return all(c is not None and c[0] == c[1] for c in counts)

        if not settle(settled, 90):
            failures.append("not every client came back up with its forker's children")

        procs = table()
        for name in names:
            for service in ("counter", "stubborn", "forker"):
                runs = service_runs(procs, name, service)
                if len(runs) != 1:
                    failures.append(f"{name}/{service}: {len(runs)} copies running")
            counts = forker_children(procs, name)
            if counts and counts[0] != counts[1]:
                failures.append(f"{name}/forker: {counts[0]} children instead of {counts[1]}")
        if len(client_svtrees(procs)) != len(names):
            failures.append(f"{len(client_svtrees(procs))} client svtrees for {len(names)} clients")
        tree_pids = {root.pid} | {p for p, info in procs.items() if info[2] and info[2].startswith(base)}
        zombies = [p for p in tree_pids if procs.get(p, (0, ""))[1] == "Z"]
        if zombies:
            # A zombie may be one being reaped right now: look again.
            time.sleep(1)
            again = table()
            zombies = [p for p in zombies if again.get(p, (0, ""))[1] == "Z"]
            if zombies:
                failures.append(f"zombies: {zombies[:10]}")
        orphans = [p for p, info in procs.items() if info[2] and info[2].startswith(base) and info[0] not in tree_pids]
        if orphans:
            failures.append(f"orphans outside the tree: {[procs[p][3] for p in orphans[:5]]}")
        root_fds = steady_fds(root.pid)
        if root_fds != baseline_root_fds:
            failures.append(f"root svtree holds {root_fds} descriptors, {baseline_root_fds} at the start")
        client_fds = client_fds_now()
        if client_fds != baseline_client_fds:
            failures.append(f"client svtrees hold {client_fds} descriptors, {baseline_client_fds} at the start")
            for pid in client_svtrees(table()):
                if steady_fds(pid) not in baseline_client_fds:
                    try:
                        targets = sorted(os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd"))
                    except OSError:
                        continue
                    failures.append(f"client svtree {pid} ({procs.get(pid, (0, '', '', ''))[3]}) holds: {targets}")

        # Logs complete: the counters stopped (sv down), their loggers given time to drain,
        # then for each run id, 1..last with no gap (across rotated files).
        for name in names:
            with open(f"{client_path(name)}/services/counter/supervise/control", "w") as control:
                control.write("d")

        def counters_down_and_drained():
            sizes = []
            for name in names:
                with open(f"{client_path(name)}/services/counter/supervise/stat") as f:
                    if not f.read().startswith("down"):
                        return False
                directory = f"{client_path(name)}/services/counter/log/main"
                sizes.append(sum(os.path.getsize(f"{directory}/{f}") for f in os.listdir(directory)))
            time.sleep(0.5)
            return sizes == [sum(os.path.getsize(f"{client_path(n)}/services/counter/log/main/{f}")
                                 for f in os.listdir(f"{client_path(n)}/services/counter/log/main")) for n in names]

        if not settle(counters_down_and_drained, 60):
            failures.append("the counters did not stop, or their logs kept growing")
        runs_checked, lines_checked = 0, 0
        for name in names:
            directory = f"{client_path(name)}/services/counter/log/main"
            numbers = {}
            malformed = []
            for file in sorted(os.listdir(directory)):
                if not (file == "current" or file.startswith("@")):
                    continue
                with open(f"{directory}/{file}", "rb") as f:
                    for line in f:
                        # RUN is PID-NANOSECONDS (19 digits): the tail of a line cut in two files does not pass.
                        m = re.match(rb"^(\d+-\d{19}) (\d+)\n$", line)
                        if m:
                            numbers.setdefault(m.group(1), set()).add(int(m.group(2)))
                        else:
                            malformed.append(line[:80])
            # Every line is the counter's: one that is not is a torn or mangled line; and a
            # client without a single counter line logged nothing at all.
            if malformed:
                failures.append(f"{name}: {len(malformed)} lines not from the counter (e.g. {malformed[:2]})")
            if not numbers:
                failures.append(f"{name}: no counter line logged")
            for run, seen in numbers.items():
                runs_checked += 1
                lines_checked += len(seen)
                missing = set(range(1, max(seen) + 1)) - seen
                if missing:
                    failures.append(f"{name}: run {run.decode()} lost {len(missing)} lines (e.g. {sorted(missing)[:3]})")
        print(f"chaos: {args.clients} clients, {sum(kinds.values())} SIGKILLs ({', '.join(f'{v} {k}' for k, v in kinds.items())}),"
              f" {operations} enable/disable operations")
        print(f"chaos: {lines_checked} numbered lines in {runs_checked} counter runs checked; root fds {root_fds};"
              f" client svtree fds {client_fds}")

        if args.long_line_mb:
            size = args.long_line_mb << 20
            directory = f"{base}/longline"
            os.makedirs(directory)
            logger = subprocess.Popen([f"{bin_dir}/svlog", directory], stdin=subprocess.PIPE)
            chunk = b"x" * (1 << 20)
            for _ in range(args.long_line_mb):
                logger.stdin.write(chunk)
            logger.stdin.write(b"\nafter\n")
            logger.stdin.close()
            logger.wait()
            total = sum(os.path.getsize(f"{directory}/{f}") for f in os.listdir(directory) if f == "current" or f.startswith("@"))
            if total != size + len("\nafter\n"):
                failures.append(f"a {args.long_line_mb} MB line: {total} bytes logged, {size + 7} sent")
            else:
                print(f"chaos: one {args.long_line_mb} MB line logged whole ({total} bytes)")
    finally:
        root.send_signal(signal.SIGTERM)
        try:
            code = root.wait(timeout=60)
            if code != 0:
                failures.append(f"root svtree exited with {code}")
        except subprocess.TimeoutExpired:
            failures.append("root svtree did not exit within 60 s of SIGTERM")
            root.kill()
        left = [p for p, info in table().items() if info[2] and info[2].startswith(base) and info[1] != "Z"]
        if left:
            failures.append(f"{len(left)} processes left after the root's exit")
            for pid in left:
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)
    for failure in failures:
        print(f"chaos: FAILED: {failure}")
    print("chaos: ok" if not failures else f"chaos: {len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
