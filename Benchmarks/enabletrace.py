"""Where an enable's time goes: one `ln -s` traced with `strace -f --seccomp-bpf` from the root
svtree down to the loggers, cut into phases. tree-bench.py prints it after its table. Only the
calls named in TRACED stop a process, but each of those stops costs a trip to strace (a traced
enable takes about three times an untraced one), so the shares are what counts; the untraced
median is the table's.
"""
import os
import re
import shutil
import subprocess
import time

import benchlib

LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
CALL = re.compile(r"^(?:<\.\.\. )?(\w+)(?: resumed>|\()(.*?)(?:= (-?\w+).*?)?(?:<(\d+\.\d+)>)?$")


def parse(path):
    """(pid, end time, name, text, result, duration) of each finished call. A call strace
    printed in two halves is counted once, at its resumption (whose stamp is its end)."""
    calls, pending = [], {}
    with open(path, errors="replace") as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            pid, ts, rest = int(m.group(1)), float(m.group(2)), m.group(3)
            if rest.endswith("<unfinished ...>"):
                pending[pid] = rest
                continue
            c = CALL.match(rest)
            if not c:
                continue
            name, text, result, dur = c.group(1), c.group(2), c.group(3), float(c.group(4) or 0)
            resumed = rest.startswith("<...")
            if resumed:
                text = pending.pop(pid, "") + text
            calls.append((pid, ts if resumed else ts + dur, name, text, result, dur))
    return calls


def phases(calls, start, root):
    """The enable's timeline, from the symlink at `start`: [(phase, ms)], and the time spent in
    kinds of calls across every process."""
    def first(pred, after):
        return next((c for c in calls if c[1] >= after and pred(c)), None)

    notice = first(lambda c: c[0] == root and c[2] == "epoll_wait", start)
    spawn = notice and first(lambda c: c[0] == root and c[2] == "clone3" and (c[4] or "").isdigit(), notice[1])
    client = int(spawn[4]) if spawn else None
    run = spawn and first(lambda c: c[0] == client and c[2] == "execve" and "/run" in c[3], spawn[1])
    nested = run and first(lambda c: c[0] == client and c[2] == "execve" and "svtree" in c[3], run[1])
    service = nested and first(lambda c: c[0] == client and c[2] == "clone3", nested[1])
    loggers = {c[0] for c in calls if c[2] == "execve" and re.search(r'svlogd?"', c[3]) and c[4] == "0"}
    ups = [c for c in calls if c[0] in loggers and c[2] == "write" and '"up\\n"' in c[3]]
    up = max(ups, key=lambda c: c[1]) if len(ups) >= 2 else None
    marks = [("symlink -> root reads the inotify event", notice),
             ("root: scan, supervise/, cgroup -> client spawned", spawn),
             ("spawn -> client's run exec'd", run),
             ("run (sh) -> client svtree exec'd", nested),
             ("client svtree: start, scan -> first service spawned", service),
             ("services and loggers -> both 'up' lines written", up)]
    timeline, last = [], start
    for title, call in marks:
        if call is None:
            timeline.append((title, None))
            break
        timeline.append((title, (call[1] - last) * 1000))
        last = call[1]

    window = [c for c in calls if start <= c[1] <= last]
    def spent(pred):
        return sum(c[5] for c in window if pred(c)) * 1000
    kinds = [
        ("cgroup calls (mkdir, clone3 into a cgroup, files)",
         spent(lambda c: "/sys/fs/cgroup" in c[3] or "CLONE_INTO_CGROUP" in c[3])),
        ("supervise/ files", spent(lambda c: "/supervise/" in c[3] or "supervise\"" in c[3])),
        ("execve (program loading)", spent(lambda c: c[2] == "execve")),
        ("clone3 (all)", spent(lambda c: c[2] == "clone3")),
    ]
    return timeline, kinds


# Only these calls stop the tracee (--seccomp-bpf): the rest run at full speed. -y names each
# descriptor's file, so writes to cgroup and supervise/ files are told apart.
TRACED = "execve,clone3,clone,write,epoll_wait,mkdir,rmdir,openat,rename,renameat2"


class TracedTree(benchlib.Tree):
    """An svtree tree whose root, and all it starts, runs under strace."""
    def __init__(self, out, *args):
        super().__init__("svtree", *args)
        self.out = out

    def start_root(self):
        self.root = subprocess.Popen(["strace", "-f", "--seccomp-bpf", "-e", f"trace={TRACED}", "-ttt", "-T",
                                      "-y", "-qq", "-s", "160", "-o", self.out, f"{self.bin_dir}/svtree", self.enabled],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def svtree_pid(self):
        """The traced root: the first process in the trace."""
        with open(self.out) as f:
            return int(f.readline().split()[0])

    def stop(self):
        # SIGTERM to svtree itself (strace ends first if it is the one signalled), waited for:
        # its working directory is not under the tree, so Tree.stop would not find it.
        try:
            pid = self.svtree_pid()
            os.kill(pid, 15)
            if benchlib.wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 15) is None:
                os.kill(pid, 9)
        except (OSError, ValueError, IndexError):
            pass
        super().stop()


def traced_enable(bin_dir, logger, work):
    """One enable of a fresh one-client svtree tree, traced (the trace is kept in `work`).
    None when strace is missing or the enable did not happen."""
    if not shutil.which("strace"):
        return None
    out = f"{work}/enable.strace"
    tree = TracedTree(out, f"{work}/traced", bin_dir, logger)
    tree.make_client("c0")
    tree.start_root()
    try:
        # The root is up and idle once it has made its (empty) enabled/ scan.
        if benchlib.wait_until(lambda: os.path.exists(out) and "epoll_wait" in open(out).read(), 10) is None:
            return None
        time.sleep(0.3)
        start = time.time()
        os.symlink(tree.client_dir("c0"), f"{tree.enabled}/c0")
        if benchlib.wait_until(lambda: tree.leaves_logging("c0"), 15) is None:
            return None
        time.sleep(0.1)
        root = tree.svtree_pid()
    finally:
        tree.stop()
    return phases(parse(out), start, root)


def report(result):
    if result is None:
        print("enable breakdown: not measured (strace is not installed, or the traced enable failed)")
        return
    timeline, kinds = result
    total = sum(ms for _, ms in timeline if ms is not None)
    print(f"\nOne enable traced (strace -f --seccomp-bpf -e trace={TRACED}; cgroup mode where "
          f"available; tracing slows the traced calls, read the shares), {total:.1f} ms traced:")
    for title, ms in timeline:
        if ms is None:
            print(f"  {title:56} not seen in the trace")
        else:
            print(f"  {title:56} {ms:6.1f} ms {100 * ms / total:4.0f}%")
    print("  time inside calls of each kind, all processes (overlapping):")
    for title, ms in kinds:
        print(f"    {title:54} {ms:6.1f} ms {100 * ms / total:4.0f}%")
