#!/usr/bin/env python3
"""svlog against svlogd and s6-log: throughput on 100-byte lines, and lines lost when killed.

Each logger reads the same input through a pipe, with size rotation on, once without and once
with timestamps (-tt for svlog and svlogd, T for s6-log). Then each is SIGKILLed repeatedly
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


def throughput(kind, bin_dir, work, megabytes, stamps):
    directory = f"{work}/{kind}-{'tt' if stamps else 'plain'}"
    prepare(directory, kind)
    total = megabytes * 1024 * 1024 // len(LINE)
    chunk = LINE * 10000
    logger = subprocess.Popen(logger_command(kind, bin_dir, directory, stamps), stdin=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    start = time.monotonic()
    written = 0
    while written < total:
        logger.stdin.write(chunk)
        written += 10000
    logger.stdin.close()
    logger.wait()
    seconds = time.monotonic() - start
    shutil.rmtree(directory, ignore_errors=True)
    return written * len(LINE) / seconds / 1e6, written / seconds


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
    rows = {}
    try:
        for kind in kinds:
            print(f"{kind} ...", file=sys.stderr, flush=True)
            plain = throughput(kind, bin_dir, work, args.megabytes, False)
            stamped = throughput(kind, bin_dir, work, args.megabytes, True)
            lost, sent = losses(kind, bin_dir, work, args.kills)
            rows[kind] = (plain, stamped, lost, sent)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.megabytes} MB of 100-byte lines through a pipe, size rotation on; {args.kills} SIGKILLs for losses")
    header = f"{'logger':8} {'MB/s':>8} {'lines/s':>11} {'MB/s -tt':>9} {'lines/s -tt':>12} {'lost lines':>16}"
    print(header)
    print("-" * len(header))
    for kind, ((mb, ls), (mbt, lst), lost, sent) in rows.items():
        print(f"{kind:8} {mb:8.0f} {ls:11.0f} {mbt:9.0f} {lst:12.0f} {lost:>8} of {sent:<7}")
    base = rows["svlog"]
    for kind in kinds[1:]:
        print(f"svlog/{kind}: {base[0][0] / rows[kind][0][0]:.1f}x plain, {base[1][0] / rows[kind][1][0]:.1f}x with stamps")


if __name__ == "__main__":
    main()
