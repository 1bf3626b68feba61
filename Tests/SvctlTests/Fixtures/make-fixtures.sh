#!/usr/bin/env bash
# Regenerates tree/: supervise/ files written by real supervisors (svtree for alice and carol,
# Debian's runsv for bob), copied without their FIFOs and locks. The golden files in
# ../Golden depend on these bytes: regenerate both together (the tests print the new output).
# usage: make-fixtures.sh BIN_DIR (where svtree and svlog are)
set -euo pipefail
bin=${1:?usage: make-fixtures.sh BIN_DIR}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/svctl-fixtures-XXXXXX)
# runsv's children outlive it (the fault svtree fixes): kill everything whose working
# directory is under $work (supervisors, services and client svtrees alike).
cleanup() {
    local p
    for p in /proc/[0-9]*; do
        case $(readlink "$p/cwd" 2>/dev/null) in "$work"*) kill -KILL "${p#/proc/}" 2>/dev/null || true ;; esac
    done
    sleep 0.2
    rm -rf "$work"
}
trap cleanup EXIT
export PATH="$bin:$PATH"
service() { # service DIR BODY
    mkdir -p "$1/log"
    printf '#!/bin/sh\nexec 2>&1\n%s\n' "$2" > "$1/run"
    printf '#!/bin/sh\nexec cat > /dev/null\n' > "$1/log/run"
    chmod +x "$1/run" "$1/log/run"
}
client() { # client NAME: a client svtree over services/
    mkdir -p "$work/clients/$1/services" "$work/clients/$1/log"
    printf '#!/bin/sh\nexec svtree services\n' > "$work/clients/$1/run"
    printf '#!/bin/sh\nexec cat > /dev/null\n' > "$work/clients/$1/log/run"
    chmod +x "$work/clients/$1/run" "$work/clients/$1/log/run"
}
mkdir -p "$work/enabled"
client alice
service "$work/clients/alice/services/storage" 'exec sleep 3600'
service "$work/clients/alice/services/snapwatch" 'sleep 0.05; exit 3'
client carol
service "$work/clients/carol/services/storage" 'exec sleep 3600'
service "$work/clients/carol/services/snapwatch" 'exec sleep 3600'
for name in alice carol; do ln -s "$work/clients/$name" "$work/enabled/$name"; done
svtree "$work/enabled" 2>/dev/null &
# bob: the classic runit tree (runsv bob, whose run is a runsvdir over services/), storage up,
# snapwatch normally down (a down file).
mkdir -p "$work/clients/bob/services"
printf '#!/bin/sh\nexec runsvdir -P services\n' > "$work/clients/bob/run"
chmod +x "$work/clients/bob/run"
service "$work/clients/bob/services/storage" 'exec sleep 3600'
service "$work/clients/bob/services/snapwatch" 'exec sleep 3600'
touch "$work/clients/bob/services/snapwatch/down"
runsv "$work/clients/bob" &
sleep 3
rm -rf "$here/tree"
mkdir -p "$here/tree/enabled"
for name in alice bob carol; do
    (cd "$work/clients" && find "$name" \( -name status -o -name stat -o -name pid -o -name svtree -o -name down \
        -o -name run \) -path "*" | while read -r file; do
        mkdir -p "$here/tree/clients/$(dirname "$file")"
        cp -p "$file" "$here/tree/clients/$file"
    done)
done
# bob and carol have backup records; dave is enabled but never started; erin is defined only.
printf 'watching_since 1795000000\nlast_snapshot %s 1795240000\nlast_hook 1795240000200 850 code 1\nlast_success 1795200000\nwaiting 2\n' \
    "$(printf 'c%.0s' {1..64})" > "$here/tree/clients/carol/services/snapwatch/backup-status"
printf 'watching_since 1795000000\nlast_snapshot %s 1795320000\nlast_hook 1795320000100 180 code 0\nlast_success 1795320000\nwaiting 0\n' \
    "$(printf 'b%.0s' {1..64})" > "$here/tree/clients/bob/services/snapwatch/backup-status"
mkdir -p "$here/tree/clients/dave/services/storage" "$here/tree/clients/dave/supervise" "$here/tree/clients/erin"
printf 'garbage' > "$here/tree/clients/dave/supervise/status"
printf '#!/bin/sh\nexec sleep 3600\n' > "$here/tree/clients/dave/services/storage/run"
chmod +x "$here/tree/clients/dave/services/storage/run"
printf '#!/bin/sh\nexec svtree services\n' > "$here/tree/clients/dave/run"
printf '#!/bin/sh\nexec svtree services\n' > "$here/tree/clients/erin/run"
chmod +x "$here/tree/clients/dave/run" "$here/tree/clients/erin/run"
for name in alice bob carol dave; do ln -s "../clients/$name" "$here/tree/enabled/$name"; done
echo "fixtures written to $here/tree"
