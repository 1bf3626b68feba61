#!/usr/bin/env python3
"""The keyless audit at repository scale, against the tools an operator would reach for.

Part 1, a synthetic repository of --files small files (default 100,000) that follow restic's
rule (name = sha256 of content, data/ fanned out by the first two hex digits), and a local
replica (a copy): `svctl audit --listing-only` (completeness), `svctl audit --cycle 30` (one
slot of 1/30 hashed on both backends), and `rclone check` of the two trees (listings, and
the hashes it can compute: here every byte of both sides).

Part 2, a real restic repository (--megabytes of random data backed up) and its replica:
`svctl audit --cycle 30` and `restic check --read-data-subset 1/30` on the same repository.

Each row: wall time and peak RSS (GNU time's maximum resident set of the command or its
largest child), one run each, in the same run; ratios against svctl audit.

usage: audit-bench.py BIN_DIR [--files N] [--megabytes M]
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

import benchlib


def measure(argv, env=None):
    """(seconds, peak RSS in kB, exit code) of a command under GNU time."""
    start = time.monotonic()
    done = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    peak = int(done.stderr.strip().splitlines()[-1])
    return seconds, peak, done.returncode, done.stdout


def synthesise(repository, files):
    os.makedirs(repository)
    with open(os.path.join(repository, "config"), "wb") as f:
        f.write(os.urandom(155))
    for folder in ["keys", "index", "snapshots"]:
        os.makedirs(os.path.join(repository, folder))
    for prefix in range(256):
        os.makedirs(os.path.join(repository, "data", "%02x" % prefix))
    for i in range(files):
        content = os.urandom(512 + (i * 7919) % 1536)
        name = hashlib.sha256(content).hexdigest()
        folder = os.path.join("data", name[:2]) if i % 20 else ("index" if i % 40 else "snapshots")
        with open(os.path.join(repository, folder, name), "wb") as f:
            f.write(content)


def client(top, name, replica):
    """A client directory svctl audit reads: its snapwatch's replicas file names the replica."""
    service = os.path.join(top, "clients", name, "services", "snapwatch")
    os.makedirs(service)
    benchlib.write(os.path.join(service, "replicas"), replica + "\n")
    os.makedirs(os.path.join(top, "enabled"), exist_ok=True)


def row(label, result, base):
    seconds, peak, code, _ = result
    ratio = "" if base is None else "  %5.2fx time  %5.2fx memory" % (seconds / base[0], peak / base[1])
    print("  %-46s %8.2f s %9.1f MB  exit %d%s" % (label, seconds, peak / 1024, code, ratio))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin")
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()
    svctl = os.path.join(os.path.abspath(args.bin), "svctl")
    top = tempfile.mkdtemp(prefix="audit-bench-")
    try:
        env = dict(os.environ, SVTREE_ROOT=os.path.join(top, "enabled"), TMPDIR=top)
        primary = os.path.join(top, "data", "synthetic")
        replica = os.path.join(top, "replica", "synthetic")
        started = time.monotonic()
        synthesise(primary, args.files)
        shutil.copytree(primary, replica)
        client(top, "synthetic", replica)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(primary) for f in fs)
        print("part 1: %d files, %.1f MB, and a local replica (made in %.1f s)"
              % (args.files + 1, size / 1e6, time.monotonic() - started))
        subprocess.run(["sync"])
        listing = measure([svctl, "audit", "synthetic", "--listing-only"], env)
        row("svctl audit --listing-only (completeness)", listing, None)
        slot = measure([svctl, "audit", "synthetic", "--cycle", "30"], env)
        row("svctl audit --cycle 30 (+ one slot hashed)", slot, listing)
        rclone = measure(["rclone", "--config", "/dev/null", "check", "--one-way", primary, replica], env)
        row("rclone check (listings and every hash)", rclone, listing)
        for result in (listing, slot):
            if result[2] != 0:
                print("svctl audit failed:\n" + result[3], file=sys.stderr)
                return 1

        repository = os.path.join(top, "data", "real")
        source = os.path.join(top, "source")
        os.makedirs(source)
        for i in range(args.megabytes):
            with open(os.path.join(source, "file%04d" % i), "wb") as f:
                f.write(os.urandom(1 << 20))
        restic_env = dict(env, RESTIC_PASSWORD="bench", HOME=top)
        subprocess.run(["restic", "-q", "-r", repository, "init"], env=restic_env, check=True, capture_output=True)
        subprocess.run(["restic", "-q", "-r", repository, "backup", source], env=restic_env, check=True, capture_output=True)
        real_replica = os.path.join(top, "replica", "real")
        shutil.copytree(repository, real_replica)
        client(top, "real", real_replica)
        count = sum(len(fs) for _, _, fs in os.walk(repository))
        print("part 2: a restic repository of %d MB of data (%d files) and a local replica" % (args.megabytes, count))
        audit = measure([svctl, "audit", "real", "--cycle", "30"], env)
        row("svctl audit --cycle 30 (both backends)", audit, None)
        check = measure(["restic", "-r", repository, "--no-cache", "check", "--read-data-subset", "1/30"], restic_env)
        row("restic check --read-data-subset 1/30 (primary)", check, audit)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
