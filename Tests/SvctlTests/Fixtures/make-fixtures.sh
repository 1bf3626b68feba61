#!/usr/bin/env bash
# Regenerates tree/: supervise/ files written by real supervisors, copied without their FIFOs
# and locks, with tree/supervisors (which supervisors held their ok FIFO when the files were
# copied: "live DIR" or "dead DIR") and tree/now (the Unix second of the copy, the tests' clock).
#   alice  svtree, cgroup mode: storage ready (notification-fd written), snapwatch crash-looping
#   bob    runit: runsv bob, whose run is a runsvdir over services/; snapwatch normally down
#   carol  svtree: storage with a notification-fd it never writes (not ready); backup records
#          with no replica configured; a job (audit, every 1d) whose one run exited 1
#   dave   enabled, never started, a garbage status; erin defined only
#   frank  svtree, session mode, its root and client supervisors SIGKILLed: a dead supervisor
# The golden files in ../Golden depend on these bytes: run update-golden.sh after this script.
# Every wait is for a condition, bounded; every process started here is killed by PID.
# usage: make-fixtures.sh BIN_DIR (where svtree and svlog are; run as root, for cgroup mode)
set -euo pipefail
bin=$(cd "${1:?usage: make-fixtures.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/svctl-fixtures-XXXXXX)
started=()

# Every process whose working directory is under $work (supervisors, services, the orphans
# runsv leaves behind, the services of frank's killed svtrees).
left_in_work() {
    local p
    for p in /proc/[0-9]*; do
        case $(readlink "$p/cwd" 2>/dev/null) in "$work"*) echo "${p#/proc/}" ;; esac
    done
}
cleanup() {
    local pid tries=0 left
    # The root svtree tears its tree down on TERM (and removes its cgroups); the rest is killed.
    for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    while [ $tries -lt 200 ]; do
        left=$(left_in_work)
        [ -z "$left" ] && break
        [ $tries -ge 100 ] && for pid in $left; do kill -KILL "$pid" 2>/dev/null || true; done
        tries=$((tries + 1))
        sleep 0.05 # the poll interval of a bounded wait
    done
    for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ -n "$(left_in_work)" ] && echo "make-fixtures: processes left under $work: $(left_in_work)" >&2
    rm -rf "$work"
}
trap cleanup EXIT

# wait_for SECONDS WHAT COMMAND...: polls COMMAND until it succeeds; fails the script past SECONDS.
wait_for() {
    local limit=$1 what=$2 deadline=$((SECONDS + $1))
    shift 2
    until "$@"; do
        if [ $SECONDS -ge $deadline ]; then
            echo "make-fixtures: timed out after $limit s waiting for $what" >&2
            exit 1
        fi
        sleep 0.05 # the poll interval of a bounded wait
    done
}
stat_is() { [ "$(cat "$1/supervise/stat" 2>/dev/null)" = "$2" ]; }
field() { sed -n "s/^$2 //p" "$1/supervise/svtree" 2>/dev/null; }
at_least() { local v; v=$(field "$1" "$2"); [ -n "$v" ] && [ "$v" -ge "$3" ]; }
has_field() { grep -q "^$2 " "$1/supervise/svtree" 2>/dev/null; }
# Whether a supervisor holds DIR/supervise/ok open for reading, as sv and svctl tell.
holder() {
    python3 -c 'import os, sys
try:
    os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)); print("live")
except OSError:
    print("dead")' "$1/supervise/ok"
}
dead() { [ "$(holder "$1")" = dead ]; }

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
c=$work/clients
mkdir -p "$work/enabled" "$work/enabled2"

client alice
service "$c/alice/services/storage" 'echo >&3; exec sleep 3600'
echo 3 > "$c/alice/services/storage/notification-fd"
service "$c/alice/services/snapwatch" 'exit 3'
client carol
service "$c/carol/services/storage" 'exec sleep 3600'
echo 3 > "$c/carol/services/storage/notification-fd"
service "$c/carol/services/snapwatch" 'exec sleep 3600'
service "$c/carol/services/audit" 'echo "2 files missing"; exit 1'
echo 'every 1d' > "$c/carol/services/audit/schedule"
for name in alice carol; do ln -s "$c/$name" "$work/enabled/$name"; done
(cd "$work" && exec svtree "$work/enabled" 2>/dev/null) &
started+=($!)

# bob: the classic runit tree, storage up, snapwatch normally down (a down file).
mkdir -p "$c/bob/services"
printf '#!/bin/sh\nexec runsvdir -P services\n' > "$c/bob/run"
chmod +x "$c/bob/run"
service "$c/bob/services/storage" 'exec sleep 3600'
service "$c/bob/services/snapwatch" 'exec sleep 3600'
touch "$c/bob/services/snapwatch/down"
(cd "$work" && exec runsv "$c/bob") &
started+=($!)

# frank: a root svtree of its own, in session mode, over frank alone.
client frank
service "$c/frank/services/storage" 'exec sleep 3600'
service "$c/frank/services/snapwatch" 'exec sleep 3600'
ln -s "$c/frank" "$work/enabled2/frank"
(cd "$work" && SVTREE_CGROUPS=off exec svtree "$work/enabled2" 2>/dev/null) &
frank_root=$!

wait_for 20 "frank's services" eval 'stat_is "$c/frank/services/storage" run && stat_is "$c/frank/services/snapwatch" run && stat_is "$c/frank/services/storage/log" run && stat_is "$c/frank/services/snapwatch/log" run'
frank_client=$(cat "$c/frank/supervise/pid")
kill -KILL "$frank_root" "$frank_client"
wait "$frank_root" 2>/dev/null || true
wait_for 10 "frank's supervisors gone" eval 'dead "$c/frank" && dead "$c/frank/services/storage"'

for name in carol alice; do
    wait_for 20 "$name's services and loggers" eval 'stat_is "$c/$name" run && stat_is "$c/$name/log" run && stat_is "$c/$name/services/storage" run && stat_is "$c/$name/services/storage/log" run && stat_is "$c/$name/services/snapwatch/log" run'
done
wait_for 10 "carol's snapwatch" stat_is "$c/carol/services/snapwatch" run
wait_for 10 "carol's audit job to have run" grep -q '^exit code 1$' "$c/carol/services/audit/last-run"
wait_for 10 "carol's audit job down until its next run" eval 'stat_is "$c/carol/services/audit" down && has_field "$c/carol/services/audit" job_next_run_ns'

wait_for 10 "alice's storage ready" has_field "$c/alice/services/storage" ready_since_ns
# runsvdir looks at services/ every 5 s.
wait_for 20 "bob's services" eval 'stat_is "$c/bob" run && stat_is "$c/bob/services/storage" run && stat_is "$c/bob/services/storage/log" run && stat_is "$c/bob/services/snapwatch" down && stat_is "$c/bob/services/snapwatch/log" run'
# Last, as it changes all the time: alice's snapwatch down between two quick deaths, with a
# restart delay long enough for the copy to catch it so.
wait_for 30 "alice's snapwatch in a long restart delay" eval 'at_least "$c/alice/services/snapwatch" restart_delay_ms 1600 && stat_is "$c/alice/services/snapwatch" down'

rm -rf "$here/tree"
mkdir -p "$here/tree/enabled"
: > "$here/tree/supervisors"
for name in alice bob carol frank; do
    (cd "$c" && find "$name" \( -name status -o -name stat -o -name pid -o -name svtree -o -name down \
        -o -name run -o -name notification-fd -o -name schedule -o -name last-run \) | sort | while read -r file; do
        mkdir -p "$here/tree/clients/$(dirname "$file")"
        cp -p "$file" "$here/tree/clients/$file"
    done)
    (cd "$c" && find "$name" -type d -name supervise | sort | while read -r dir; do
        echo "$(holder "$c/$(dirname "$dir")") clients/$dir" >> "$here/tree/supervisors"
    done)
done
now=$(date +%s)
echo "$now" > "$here/tree/now"
for dir in "$here"/tree/clients/*/supervise "$here"/tree/clients/*/services/*/supervise; do
    [ -f "$dir/status" ] || { echo "make-fixtures: $dir has no status" >&2; exit 1; }
done

# Backup records (relative to now): bob's fresh, carol's a day old with a failed replication.
printf 'watching_since %s\nlast_snapshot %s %s\nlast_hook %s200 850 code 1\nlast_success %s\nwaiting 2\n' \
    $((now - 330000)) "$(printf 'c%.0s' {1..64})" $((now - 90000)) $((now - 90000)) $((now - 130000)) \
    > "$here/tree/clients/carol/services/snapwatch/backup-status"
printf 'watching_since %s\nlast_snapshot %s %s\nlast_hook %s100 180 code 0\nlast_success %s\nwaiting 0\n' \
    $((now - 330000)) "$(printf 'b%.0s' {1..64})" $((now - 10000)) $((now - 10000)) $((now - 10000)) \
    > "$here/tree/clients/bob/services/snapwatch/backup-status"
# bob replicates to one place; carol's replicas lists none (a warning: not replicated).
printf '# targets\n/srv/replica/bob\n' > "$here/tree/clients/bob/services/snapwatch/replicas"
printf '# Replication targets of this client, one per line.\n' > "$here/tree/clients/carol/services/snapwatch/replicas"
# Assurance records (relative to now): bob audited clean on both backends and verified;
# alice's remote replica misses an index file and has a corrupt pack.
assurance() { # assurance NOW DIR: writes the records into the fixture tree DIR
    local now=$1 t=$2 id
    id=$(printf 'b%.0s' {1..64})
    printf 'at %s\nday 20794\ncycle 30\n' $((now - 7200)) > "$t/clients/bob/audit-status"
    for backend in /srv/svtree/data/bob /srv/replica/bob; do
        printf 'backend %s\nfiles 120\nbytes 52428800\nmissing 0\ncorrupt 0\nunexpected 0\nhashed 4\nread_bytes 1700000\nfirst_day 20700\nslots%s\nfull_cycle_at %s\n' \
            "$backend" "$(for s in $(seq 0 29); do printf ' %s' $((20794 - (20794 - s) % 30)); done)" $((now - 7200)) \
            >> "$t/clients/bob/audit-status"
    done
    printf 'at %s\nsubset 3 12\ncheck ok\nsnapshot %s\nbackend /srv/svtree/data/bob\nrestored 20 3100000\nbackend /srv/replica/bob\nrestored 20 3100000\n' \
        $((now - 86400)) "$id" > "$t/clients/bob/verify-status"
    printf 'at %s\nday 20794\ncycle 30\nbackend /srv/svtree/data/alice\nfiles 40\nbytes 9000000\nmissing 0\ncorrupt 0\nunexpected 0\nhashed 2\nread_bytes 300000\nfirst_day 20790\nslots%s\nbackend far:alice\nfiles 39\nbytes 8990000\nmissing 1\ncorrupt 1\nunexpected 0\nhashed 2\nread_bytes 300000\nfirst_day 20790\nslots%s\nproblem missing index/%s\nproblem corrupt data/%s/%s: its content hashes to %s\n' \
        $((now - 3600)) "$(printf ' -%.0s' {1..25}) 20790 20791 20792 20793 20794" "$(printf ' -%.0s' {1..25}) 20790 20791 20792 20793 20794" \
        "$(printf 'a%.0s' {1..64})" dd "$(printf 'd%.0s' {1..64})" "$(printf 'e%.0s' {1..64})" > "$t/clients/alice/audit-status"
}
assurance "$now" "$here/tree"
# dave: enabled, its supervisor (said to be running) wrote garbage; its storage never started.
mkdir -p "$here/tree/clients/dave/services/storage" "$here/tree/clients/dave/supervise" "$here/tree/clients/erin"
printf 'garbage' > "$here/tree/clients/dave/supervise/status"
echo "live clients/dave/supervise" >> "$here/tree/supervisors"
printf '#!/bin/sh\nexec sleep 3600\n' > "$here/tree/clients/dave/services/storage/run"
chmod +x "$here/tree/clients/dave/services/storage/run"
printf '#!/bin/sh\nexec svtree services\n' > "$here/tree/clients/dave/run"
printf '#!/bin/sh\nexec svtree services\n' > "$here/tree/clients/erin/run"
chmod +x "$here/tree/clients/dave/run" "$here/tree/clients/erin/run"
for name in alice bob carol dave frank; do ln -s "../clients/$name" "$here/tree/enabled/$name"; done
echo "fixtures written to $here/tree; now run update-golden.sh $1"
