"""What the benchmark scripts share: the /proc readers and the polling wait. Imported as
`import benchlib` (a script's own directory is on sys.path when it runs). Not a benchmark
by itself.
"""
import os
import signal
import time


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
