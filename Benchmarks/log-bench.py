#!/usr/bin/env python3
"""svlog against svlogd and s6-log: throughput on 100-byte lines, and lines lost when killed.

Each logger reads the same input, `cat` of a file on tmpfs through a pipe, into a directory
on tmpfs, with size rotation on, once without and once with timestamps (-tt for svlog and
svlogd, T for s6-log); the copy limit (`cat | cat > file`, the same pipe and filesystem) is
printed beside them. Then each is SIGKILLed repeatedly
while numbered lines flow through one pipe that this script holds (as svtree does), restarted
on the same pipe each time, and the numbers missing from its logs are counted.

usage: log-bench.py BIN_DIR [--megabytes N] [--kills N]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

LINE = b"x" * 99 + b"\n"


def logger_command(kind, bin_dir, directory, stamps, keep=5):
    if kind == "svlog":
        return [f"{bin_dir}/svlog"] + (["-tt"] if stamps else []) + [directory]
    if kind == "svlogd":
        return ["svlogd"] + (["-tt"] if stamps else []) + [directory]
    return ["s6-log", "-b", f"n{keep}", "s10000000"] + (["T"] if stamps else []) + [directory]


def prepare(directory, kind, keep=5):
    """Size rotation at 10 MB; `keep` old files (the loss count keeps them all)."""
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    if kind != "s6-log":
        with open(f"{directory}/config", "w") as f:
            f.write(f"s10000000\nn{keep}\n")


def throughput(kind, bin_dir, source, out, stamps, runs=3):
    """`cat SOURCE | LOGGER DIR`, both on tmpfs: the logger, not the writer or the disk, is
    measured (cat outruns every logger; the copy limit row shows by how much). Best of RUNS."""
    best = None
    for _ in range(runs):
        directory = f"{out}/{kind}-{'tt' if stamps else 'plain'}"
        command = ["cat"] if kind == "copy" else logger_command(kind, bin_dir, directory, stamps)
        if kind != "copy":
            prepare(directory, kind)
        with open(source, "rb") as f, open(f"{out}/copy", "wb") as sink:
            start = time.monotonic()
            cat = subprocess.Popen(["cat"], stdin=f, stdout=subprocess.PIPE)
            logger = subprocess.Popen(command, stdin=cat.stdout, stdout=sink if kind == "copy" else subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            cat.stdout.close()
            logger.wait()
            cat.wait()
            seconds = time.monotonic() - start
        shutil.rmtree(directory, ignore_errors=True) if kind != "copy" else os.unlink(f"{out}/copy")
        best = seconds if best is None else min(best, seconds)
    size = os.path.getsize(source)
    return size / best / 1e6, size / len(LINE) / best


def tmpfs_directory():
    """A fresh directory on a tmpfs (/dev/shm), or None."""
    with open("/proc/mounts") as f:
        if not any(line.split()[1] == "/dev/shm" and line.split()[2] == "tmpfs" for line in f):
            return None
    return tempfile.mkdtemp(prefix="svlog-bench-", dir="/dev/shm")


def losses(kind, bin_dir, work, kills):
    """Numbered lines through a pipe held here; the logger is SIGKILLed and restarted `kills` times."""
    directory = f"{work}/{kind}-kills"
    prepare(directory, kind, keep=1000)
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    command = logger_command(kind, bin_dir, directory, False, keep=1000)
    logger = subprocess.Popen(command, stdin=read_end, stderr=subprocess.DEVNULL)
    number, pending = 0, b""
    deadline_per_kill = 0.05
    for _ in range(kills):
        until = time.monotonic() + deadline_per_kill
        while time.monotonic() < until:
            if not pending:
                pending = b"".join(b"%d\n" % (number + i + 1) for i in range(2000))
                number += 2000
            try:
                sent = os.write(write_end, pending)
                pending = pending[sent:]
            except BlockingIOError:
                time.sleep(0.0002)
        logger.send_signal(signal.SIGKILL)
        logger.wait()
        logger = subprocess.Popen(command, stdin=read_end, stderr=subprocess.DEVNULL)
    os.set_blocking(write_end, True)
    if pending:
        os.write(write_end, pending)
    os.close(write_end)
    os.close(read_end)
    logger.wait(timeout=60)
    seen = set()
    for name in os.listdir(directory):
        if name.startswith("@") or name == "current":
            with open(f"{directory}/{name}", "rb") as f:
                for line in f:
                    if line.strip().isdigit():
                        seen.add(int(line))
    shutil.rmtree(directory, ignore_errors=True)
    return number - len(seen & set(range(1, number + 1))), number


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--megabytes", type=int, default=512)
    parser.add_argument("--kills", type=int, default=30)
    args = parser.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    kinds = [k for k in ("svlog", "svlogd", "s6-log") if k == "svlog" or shutil.which(k)]
    work = tempfile.mkdtemp(prefix="svlog-bench-")
    fast = tmpfs_directory() or work
    source = f"{fast}/input"
    with open(source, "wb") as f:
        chunk = LINE * 10000
        for _ in range(args.megabytes * 1024 * 1024 // len(chunk)):
            f.write(chunk)
    rows = {}
    try:
        print("copy limit ...", file=sys.stderr, flush=True)
        copy = throughput("copy", bin_dir, source, fast, False)
        for kind in kinds:
            print(f"{kind} ...", file=sys.stderr, flush=True)
            plain = throughput(kind, bin_dir, source, fast, False)
            stamped = throughput(kind, bin_dir, source, fast, True)
            lost, sent = losses(kind, bin_dir, work, args.kills)
            rows[kind] = (plain, stamped, lost, sent)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(fast, ignore_errors=True)
    place = "tmpfs to tmpfs" if fast != work else "disk to disk (no tmpfs at /dev/shm)"
    print(f"{args.megabytes} MB of 100-byte lines, cat | logger, {place}, best of 3;"
          f" size rotation on; {args.kills} SIGKILLs for losses")
    header = f"{'logger':8} {'MB/s':>8} {'lines/s':>11} {'MB/s -tt':>9} {'lines/s -tt':>12} {'lost lines':>16}"
    print(header)
    print("-" * len(header))
    print(f"{'cat':8} {copy[0]:8.0f} {copy[1]:11.0f} {'':>9} {'':>12} {'(copy limit)':>16}")
    for kind, ((mb, ls), (mbt, lst), lost, sent) in rows.items():
        print(f"{kind:8} {mb:8.0f} {ls:11.0f} {mbt:9.0f} {lst:12.0f} {lost:>8} of {sent:<7}")
    base = rows["svlog"]
    print(f"svlog/copy limit: {base[0][0] / copy[0]:.2f}x plain, {base[1][0] / copy[0]:.2f}x with stamps")
    for kind in kinds[1:]:
        print(f"svlog/{kind}: {base[0][0] / rows[kind][0][0]:.1f}x plain, {base[1][0] / rows[kind][1][0]:.1f}x with stamps")


if __name__ == "__main__":
    main()
