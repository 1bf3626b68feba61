#!/usr/bin/env python3
"""What isolation costs, and how fast a new root recovers: svtree's tree with and without a
user and limits per client, in one run, with runit (runsvdir -P, which has neither) beside.

Variants: "shared" (every client runs as root, no limits), "isolated" (each client a system
user of its own named in its root-owned `user` file, the client's directory 1770 with
services/ and log/ the user's, and a `limits` file), and runit. Measured: N symlinks to every
leaf running, PSS per client, one more client's enable (ln -s to both leaves logging, the
median of ROUNDS), and, on a tree of RECOVER clients whose root was SIGKILLed, a new root's
start to the predecessor's processes gone and every leaf running again, once.

Needs root (useradd). The users are named svtree-isobenchN and deleted at the end.

usage: isolation-bench.py BIN_DIR [--clients N] [--rounds N] [--recover N]
"""
import argparse
import grp
import os
import pwd
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import LEAF, SERVICES, processes, wait_until

INOTIFY = "/proc/sys/fs/inotify/max_user_instances"
LIMITS = "memory.max 1G\npids.max 512\ncpu.weight 100\n"


def user_name(i):
    return f"svtree-isobench{i}"


def make_users(count):
    for i in range(count):
        name = user_name(i)
        try:
            pwd.getpwnam(name)
        except KeyError:
            # svctl add's range for client users (Debian's system range holds under 900).
            subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            "-K", "SYS_UID_MIN=20000", "-K", "SYS_UID_MAX=29999",
                            "-K", "SYS_GID_MIN=20000", "-K", "SYS_GID_MAX=29999",
                            "--comment", "svtree isolation benchmark", name], check=True)


def remove_users(count):
    for i in range(count):
        subprocess.run(["userdel", user_name(i)], stderr=subprocess.DEVNULL)


def chown_tree(path, uid, gid):
    for top, dirs, files in os.walk(path):
        for name in [top] + [os.path.join(top, n) for n in dirs + files]:
            os.lchown(name, uid, gid)


def isolate(tree, name, index):
    """As svctl add lays out a client with a user of its own."""
    top = tree.client_dir(name)
    account = pwd.getpwnam(user_name(index))
    chown_tree(top, 0, account.pw_gid)
    for part in ("services", "log"):
        if os.path.exists(f"{top}/{part}"):
            chown_tree(f"{top}/{part}", account.pw_uid, account.pw_gid)
    benchlib.write(f"{top}/user", account.pw_name + "\n")
    benchlib.write(f"{top}/limits", LIMITS)
    os.chmod(top, 0o1770)


def build(kind, base, bin_dir, clients, isolated):
    tree = benchlib.Tree(kind, base, bin_dir, "svlog" if kind == "svtree" else "svlogd")
    for i in range(clients):
        tree.make_client(f"c{i}")
        if isolated:
            isolate(tree, f"c{i}", i)
    return tree


def every_leaf_running(tree, names):
    want = {f"{tree.client_dir(n)}/services/{s}" for n in names for s in SERVICES}
    table = processes()
    running = [cwd for _, cmdline, cwd in table if cmdline == LEAF]
    return want <= set(running) and len(running) == len(set(running))


def scale(kind, base, bin_dir, clients, rounds, isolated):
    tree = build(kind, base, bin_dir, clients + 1, isolated)
    tree.start_root()
    time.sleep(0.5)
    names = [f"c{i}" for i in range(clients)]
    start = time.monotonic()
    for name in names:
        os.symlink(tree.client_dir(name), f"{tree.enabled}/{name}")
    up = wait_until(lambda: every_leaf_running(tree, names), 300, interval=0.1)
    result = {"up": None if up is None else time.monotonic() - start}
    time.sleep(5)
    pids = [pid for pid, _ in tree.processes()]
    result["pss"] = benchlib.pss(pids) / clients
    # One more client, enabled and disabled ROUNDS times on the loaded tree.
    extra = f"c{clients}"
    link = f"{tree.enabled}/{extra}"
    enables = []
    for _ in range(rounds):
        for service in SERVICES:
            log = f"{tree.client_dir(extra)}/services/{service}/log/main"
            shutil.rmtree(log, ignore_errors=True)
            os.makedirs(log)
            if isolated:
                account = pwd.getpwnam(user_name(clients))
                os.chown(log, account.pw_uid, account.pw_gid)
        start = time.monotonic()
        os.symlink(tree.client_dir(extra), link)
        tree.kick()
        logged = wait_until(lambda: tree.leaves_logging(extra), 30)
        enables.append(None if logged is None else time.monotonic() - start)
        os.unlink(link)
        wait_until(lambda: not tree.client_processes(extra), 10)
        tree.kill_client_leftovers(extra)
        time.sleep(0.3)
    done = [e for e in enables if e is not None]
    result["enable"] = statistics.median(done) if done else None
    tree.stop()
    return result


def recovery(base, bin_dir, clients, isolated):
    """A root SIGKILLed over CLIENTS clients; a new root started: its start to the old
    processes gone and every leaf running once."""
    tree = build("svtree", base, bin_dir, clients, isolated)
    names = [f"c{i}" for i in range(clients)]
    for name in names:
        os.symlink(tree.client_dir(name), f"{tree.enabled}/{name}")
    tree.start_root()
    if wait_until(lambda: every_leaf_running(tree, names), 120, interval=0.1) is None:
        tree.stop()
        return None
    old = {pid for pid, _ in tree.processes()} - {tree.root.pid}
    os.kill(tree.root.pid, signal.SIGKILL)
    tree.root.wait()
    start = time.monotonic()
    tree.start_root()

    def recovered():
        alive = {pid for pid, _, _ in processes()}
        return not (old & alive) and every_leaf_running(tree, names)

    done = wait_until(recovered, 120, interval=0.05)
    seconds = None if done is None else time.monotonic() - start
    tree.stop()
    return seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--recover", type=int, default=100)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("isolation-bench.py: needs root (it makes a user per client)")
    bin_dir = os.path.abspath(args.bin_dir)
    with open(INOTIFY) as f:
        saved = f.read().strip()
    work = tempfile.mkdtemp(prefix="svtree-isolation-")
    os.chmod(work, 0o755)  # the clients' users reach their directories
    users = max(args.clients + 1, args.recover)
    results = {}
    try:
        with open(INOTIFY, "w") as f:
            f.write(str(max(int(saved), 4 * args.clients + 64)))
        print(f"making {users} users ...", file=sys.stderr, flush=True)
        make_users(users)
        variants = [("shared", "svtree", False), ("isolated", "svtree", True)]
        if shutil.which("runsvdir"):
            variants.append(("runit", "runit", False))
        for label, kind, isolated in variants:
            print(f"{label}: {args.clients} clients ...", file=sys.stderr, flush=True)
            results[label] = scale(kind, f"{work}/{label}", bin_dir, args.clients, args.rounds, isolated)
            if kind == "svtree":
                print(f"{label}: recovery of {args.recover} clients ...", file=sys.stderr, flush=True)
                results[label]["recover"] = recovery(f"{work}/{label}-recover", bin_dir, args.recover, isolated)
            else:
                results[label]["recover"] = None
    finally:
        with open(INOTIFY, "w") as f:
            f.write(saved)
        subprocess.run(["rm", "-rf", work])
        remove_users(users)

    def seconds(v):
        return "-" if v is None else f"{v:.2f} s"

    def millis(v):
        return "-" if v is None else f"{v * 1000:.1f} ms"

    kinds = list(results)
    rows = [
        (f"{args.clients} symlinks to every leaf running", lambda r: seconds(r["up"]), lambda r: r["up"]),
        ("PSS/client, everything", lambda r: f"{r['pss']:.0f} kB", lambda r: r["pss"]),
        ("one more client: ln -s to leaves logging", lambda r: millis(r["enable"]), lambda r: r["enable"]),
        (f"recovery of {args.recover} clients after SIGKILL", lambda r: seconds(r["recover"]), lambda r: r["recover"]),
    ]
    rows = [(title, lambda k, text=text: text(results[k]), lambda k, value=value: value(results[k]))
            for title, text, value in rows]
    benchlib.print_table("metric", 44, kinds, 12, rows, base="shared")


if __name__ == "__main__":
    main()
