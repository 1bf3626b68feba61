"""What the benchmark scripts share: the /proc readers, the polling wait, the nested tree
(tree-bench.py times it, scale-bench.py grows it) and their table with ratios. Imported as
`import benchlib` (a script's own directory is on sys.path when it runs). Not a benchmark
by itself.
"""
import contextlib
import shutil
import os
import signal
import subprocess
import tempfile
import time

LEAF = b"sleep\x00100000\x00"          # the cmdline of a leaf service
SERVICES = ("storage", "snapwatch")


def write(path, text, executable=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755 if executable else 0o644)


# --- /proc ---------------------------------------------------------------------------------

def processes():
    """(pid, cmdline bytes, cwd) of every living process that can be read."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
            cwd = os.readlink(f"/proc/{name}/cwd")
        except OSError:
            continue
        if cmdline:
            found.append((int(name), cmdline, cwd))
    return found


def under(cwd, path):
    return cwd == path or cwd.startswith(path + "/")


def program(cmdline):
    """The base name of a cmdline's first word: b"svlogd" for b"/usr/bin/svlogd\\0./main\\0"."""
    return os.path.basename(cmdline.split(b"\0")[0])


def wakeups(pid):
    """Context switches of one process so far, voluntary and not. Raises OSError once it is gone."""
    with open(f"/proc/{pid}/status") as f:
        return sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)


def cpu_ticks(pid):
    """User and system CPU of one process so far, in clock ticks. Raises OSError once it is gone."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cpu_ticks_with_children(pid):
    """cpu_ticks plus what its reaped children used (the jobs a scheduler ran), in ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14))


def sample(pids):
    """Context switches and CPU ticks of these processes so far (the gone ones count nothing)."""
    switches, ticks = 0, 0
    for pid in pids:
        try:
            switches += wakeups(pid)
            ticks += cpu_ticks(pid)
        except OSError:
            pass
    return switches, ticks


def smaps_rollup(pid):
    """The kB fields of one process's /proc/PID/smaps_rollup. Raises OSError once it is gone."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":"):
                fields[parts[0][:-1]] = int(parts[1])
    return fields


def pss(pids):
    """Their proportional set size, kB (the gone ones count nothing)."""
    total = 0
    for pid in pids:
        try:
            total += smaps_rollup(pid).get("Pss", 0)
        except OSError:
            pass
    return total


def memory_kb(pid):
    """PSS of this one copy, and its private dirty memory (what each further copy adds: the
    binary's file pages are shared between copies)."""
    fields = smaps_rollup(pid)
    return fields.get("Pss", 0), fields.get("Private_Dirty", 0)


# --- waiting and cleaning up ---------------------------------------------------------------

INOTIFY_INSTANCES = "/proc/sys/fs/inotify/max_user_instances"


@contextlib.contextmanager
def inotify_instances(at_least):
    """Raises fs.inotify.max_user_instances (128 by default; each svtree holds one instance) for
    a run, as svtree's sysctl.d drop-in does, and restores it after."""
    with open(INOTIFY_INSTANCES) as f:
        saved = f.read().strip()
    try:
        with open(INOTIFY_INSTANCES, "w") as f:
            f.write(str(max(int(saved), at_least)))
        yield
    finally:
        with open(INOTIFY_INSTANCES, "w") as f:
            f.write(saved)


def wait_until(condition, limit, interval=0.0002):
    """Polls (this is a benchmark, not a test) until condition() or limit seconds; returns seconds or None."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if condition():
            return time.monotonic() - start
        time.sleep(interval)
    return None


def kill_until_gone(find, pause, tries=100):
    """SIGKILLs the pids find() returns until it returns none, or `tries` looks: a runsv killed
    after its service may start it again between two looks, and that new process must not
    outlive the benchmark."""
    for _ in range(tries):
        left = find()
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(pause)


# --- the nested tree -----------------------------------------------------------------------

class Tree:
    """One system's copy of the tree and how to drive it: a root over enabled/, clients whose
    run starts a nested supervisor over services/, the two SERVICES (storage leaves a setsid'd
    process behind), each with a logger: svlog, svlogd, or "shipped" (each system's own: svlog
    under svtree, svlogd under runit, s6-log under s6)."""

    SHIPPED = {"svtree": "svlog", "runit": "svlogd", "s6": "s6-log"}

    def __init__(self, kind, base, bin_dir, logger="svlogd", supervise_in=None):
        self.kind, self.base, self.bin_dir = kind, base, bin_dir
        # As Debian's runit has it: each supervise/ a symlink into a tmpfs, made by the
        # supervisor (runsv and svtree both make a missing target).
        self.supervise_in = supervise_in and tempfile.mkdtemp(prefix=f"{kind}-", dir=supervise_in)
        logger = Tree.SHIPPED[kind] if logger == "shipped" else logger
        self.logger = f"{bin_dir}/svlog" if logger == "svlog" else logger
        self.enabled = f"{base}/enabled"
        os.makedirs(self.enabled)
        self.root = None

    def client_dir(self, name):
        return f"{self.base}/clients/{name}"

    def make_client(self, name):
        top = self.client_dir(name)
        nested = {"svtree": f"exec {self.bin_dir}/svtree services",
                  "runit": "exec runsvdir -P services",
                  "s6": "exec s6-svscan services"}[self.kind]
        write(f"{top}/run", f"#!/bin/sh\nexec 2>&1\n{nested}\n", True)
        for service in SERVICES:
            escape = "( setsid sleep 100001 & )\n" if service == "storage" else ""
            write(f"{top}/services/{service}/run",
                  f"#!/bin/sh\nexec 2>&1\necho up\n{escape}exec sleep 100000\n", True)
            write(f"{top}/services/{service}/log/run", f"#!/bin/sh\nexec {self.logger} ./main\n", True)
            os.makedirs(f"{top}/services/{service}/log/main", exist_ok=True)
        if self.supervise_in:
            for directory, label in [(top, name)] + [(f"{top}/services/{s}{log}", f"{name}.{s}{log.replace('/', '.')}")
                                                     for s in SERVICES for log in ("", "/log")]:
                os.symlink(f"{self.supervise_in}/{label}", f"{directory}/supervise")

    def start_root(self):
        command = {"svtree": [f"{self.bin_dir}/svtree", self.enabled],
                   "runit": ["runsvdir", "-P", self.enabled],
                   "s6": ["s6-svscan", self.enabled]}[self.kind]
        self.root = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)

    def kick(self):
        """s6 scans only when told; the others need nothing."""
        if self.kind == "s6":
            subprocess.run(["s6-svscanctl", "-an", self.enabled], check=False)

    def processes(self):
        """(pid, cmdline) of the root and of every process working under the tree's folder."""
        root = self.root.pid
        return [(pid, cmdline) for pid, cmdline, cwd in processes() if under(cwd, self.base) or pid == root]

    def log_size(self, name, service):
        try:
            return os.stat(f"{self.client_dir(name)}/services/{service}/log/main/current").st_size
        except OSError:
            return 0

    def leaves_logging(self, name):
        """Both services have printed their first line and their loggers have written it: up, end to end."""
        return all(self.log_size(name, s) > 0 for s in SERVICES)

    def leaves_running(self, name, table=None):
        table = table if table is not None else processes()
        want = {f"{self.client_dir(name)}/services/{s}" for s in SERVICES}
        return want <= {cwd for _, cmdline, cwd in table if cmdline == LEAF}

    def client_processes(self, name, table=None):
        table = table if table is not None else processes()
        return [pid for pid, _, cwd in table if under(cwd, self.client_dir(name))]

    def kill_client_leftovers(self, name):
        kill_until_gone(lambda: self.client_processes(name), 0.01)

    def stop(self):
        if self.root and self.root.poll() is None:
            self.root.send_signal(signal.SIGTERM if self.kind != "runit" else signal.SIGHUP)
            try:
                self.root.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.root.kill()
                self.root.wait()
        # Until nothing is left (see kill_until_gone).
        kill_until_gone(lambda: [pid for pid, _, cwd in processes() if under(cwd, self.base)], 0.05)
        if self.supervise_in:
            shutil.rmtree(self.supervise_in, ignore_errors=True)


# --- the table ------------------------------------------------------------------------------

def ratio(a, b):
    """a/b as "2.5x"; "never" when a has no figure, "-" when neither has, "inf" or "=" when b is
    none or 0."""
    if a is None:
        return "-" if b is None else "never"
    if b in (None, 0):
        return "inf" if a else "="
    return f"{a / b:.1f}x"


def print_table(metric, metric_width, kinds, column_width, rows, base="svtree"):
    """One row per (title, text(kind), value(kind)), one column per kind, then one ratio column
    kind/base for every kind after the first (kinds[0] is base)."""
    header = " ".join([f"{metric:{metric_width}}"] + [f"{k:>{column_width}}" for k in kinds] +
                      [f"{k + '/' + base:>13}" for k in kinds[1:]])
    print(header)
    print("-" * len(header))
    for title, text, value in rows:
        print(" ".join([f"{title:{metric_width}}"] + [f"{text(k):>{column_width}}" for k in kinds] +
                       [f"{ratio(value(k), value(base)):>13}" for k in kinds[1:]]))
