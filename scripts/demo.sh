#!/usr/bin/env bash
# The README's demo, with real parts: a root svtree over ./demo/enabled, a client made by
# `svctl add` (rclone's restic server + snapwatch, each with an svlog logger), a real restic
# backup replicated to ./demo/replica, svctl status, and a teardown that leaves nothing.
# DEMO_HOLD=1 keeps the tree running until Ctrl-C.
set -euo pipefail
bin=$(cd "${1:?usage: demo.sh BIN_DIR}" && pwd)  # absolute: the services run elsewhere
top=$(pwd)
demo="$top/demo"
export PATH="$bin:$PATH" SVTREE_ROOT="$demo/enabled" SVTREE_TEMPLATES="$top/service-templates"
export RESTIC_PASSWORD="demo repository password" HOME="$demo"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Every process svtree started for alice carries SVTREE_SERVICE=<its service dir>, inherited below.
client_pids() { grep -l "SVTREE_SERVICE=$demo/clients/alice" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 || true; }
client_processes() { client_pids | wc -l; }
wait_for() { # wait_for SECONDS COMMAND...: bounded wait for a condition
    local limit=$(( $(now_ms) + $1 * 1000 )); shift
    until "$@"; do [ "$(now_ms)" -lt "$limit" ] || { echo "demo: timed out waiting for: $*" >&2; return 1; }; sleep 0.01; done
}
in_replica() { ls "$demo/replica/alice/snapshots" 2>/dev/null | grep -q "^$1"; }

rm -rf "$demo"
mkdir -p "$demo/enabled" "$demo/clients"

say "root svtree over $demo/enabled; Ctrl-C ends it cleanly"
svtree "$demo/enabled" &
root=$!
# Whatever happens, the demo never leaves its tree running.
trap 'kill -TERM $root 2>/dev/null || true' INT TERM
trap 'kill -TERM $root 2>/dev/null && wait $root' EXIT

# A second replica on another host: rclone's webdav server on loopback stands for it.
offsite_port=18390
while (exec 3<>"/dev/tcp/127.0.0.1/$offsite_port") 2>/dev/null; do offsite_port=$((offsite_port + 1)); done
mkdir -p "$demo/offsite"
rclone serve webdav --config /dev/null --addr "127.0.0.1:$offsite_port" --dir-cache-time 0s "$demo/offsite" 2>"$demo/webdav.err" &
webdav=$!
trap 'kill -TERM $root $webdav 2>/dev/null || true' INT TERM
trap 'kill -TERM $webdav 2>/dev/null; kill -TERM $root 2>/dev/null && wait $root' EXIT

# As root, svctl add gives alice a user of her own, which must reach the demo's directory.
add_options=()
if [ "$(id -u)" = 0 ]; then
    d=$demo
    while [ "$d" != / ]; do
        [ $(( 0$(stat -c %a "$d") & 1 )) = 1 ] || { add_options=(--no-user); echo "($d is closed to other users: alice runs without a user of her own)"; break; }
        d=$(dirname "$d")
    done
fi
say "svctl add alice ${add_options[*]:+${add_options[*]} }--replica $demo/replica/alice --replica offsite:alice (webdav on 127.0.0.1:$offsite_port)"
svctl add alice "${add_options[@]}" --replica "$demo/replica/alice" --replica offsite:alice | tee "$demo/add.out"
own_user=$(cat "$demo/clients/alice/user" 2>/dev/null || id -un)  # who alice runs as
mkdir -p "$demo/replica"
chown "$own_user" "$demo/replica"  # the replication hook runs as alice's user
printf '[offsite]\ntype = webdav\nurl = http://127.0.0.1:%s\nvendor = other\n' "$offsite_port" \
    > "$demo/clients/alice/services/snapwatch/rclone.conf"
repository=$(sed -n 's/^ *export RESTIC_REPOSITORY=//p' "$demo/add.out")

say "svctl enable alice -w 10 (the symlink; waits until both services run and storage answers)"
start=$(now_ms)
svctl enable alice -w 10
echo "ready $(( $(now_ms) - start )) ms after enable"

say "restic init and backup of ./Sources through alice's rclone server"
restic -r "$repository" init -q
restic -r "$repository" backup -q "$top/Sources"
backed_up=$(now_ms)
id=$(ls "$demo/data/alice/snapshots")
wait_for 10 in_replica "$id"
echo "snapshot ${id:0:8} replicated to $demo/replica/alice $(( $(now_ms) - backed_up )) ms after restic returned"
wait_for 20 sh -c "ls '$demo/offsite/alice/snapshots' 2>/dev/null | grep -q '^$id'"
echo "and to offsite:alice $(( $(now_ms) - backed_up )) ms after"
restic -r "$demo/replica/alice" check --no-lock 2>&1 | tail -n 1  # no lock: locks/ stays the client user's to make

say "svctl audit alice: keyless, the primary and both replicas (completeness, and the files of today's slot hashed)"
svctl audit alice || true
say "svctl key alice, then svctl verify alice: restic check of one data subset, a restore test from every backend"
printf '%s\n' "$RESTIC_PASSWORD" > "$demo/password"
svctl key alice --password-file "$demo/password"
rm -f "$demo/password"
svctl verify alice --files 5 || true
svctl status alice

say "monitoring: svctl check (a Nagios/Icinga plugin) and alice's lines of svctl metrics"
svctl check || true
svctl metrics alice | grep -v '^#' | grep -E 'client_health|service_up|restarts_total|last_snapshot|replication_last_success|job_next_run'
# A hook that prints what it would send; the first call announces what is not ok, the second is quiet.
printf '#!/bin/sh\necho "  would notify: $1 $2 -> $3: $(tr "\\n" ";")"\n' > "$demo/print-hook"
chmod +x "$demo/print-hook"
svctl down alice/storage -w 10 >/dev/null
say "svctl alert --hook ./print-hook, storage down: one notification; again: none"
svctl alert --hook "$demo/print-hook" --state "$demo/alert-state" || true
svctl alert --hook "$demo/print-hook" --state "$demo/alert-state" || true
svctl up alice/storage -w 10 >/dev/null
svctl alert --hook "$demo/print-hook" --state "$demo/alert-state" || true

say "kill -9 the storage server: svtree starts it again at once"
old=$(cat "$demo/clients/alice/services/storage/supervise/pid")
start=$(now_ms)
kill -9 "$old"
wait_for 5 sh -c "p=\$(cat '$demo/clients/alice/services/storage/supervise/pid'); [ -n \"\$p\" ] && [ \"\$p\" != $old ]"
echo "storage back as pid $(cat "$demo/clients/alice/services/storage/supervise/pid") after $(( $(now_ms) - start )) ms"
svctl logs alice -n 6

say "svctl disable alice --wait"
svctl disable alice --wait
echo "processes of alice left: $(client_processes)"

svctl enable alice -w 10 >/dev/null
if [ "${DEMO_HOLD:-0}" = 1 ]; then
    say "alice enabled again; the tree runs until Ctrl-C (try: SVTREE_ROOT=$demo/enabled svctl status alice)"
    echo "RESTIC_REPOSITORY=$repository"
    wait "$root" || true
else
    say "SIGTERM to the root: the whole tree goes down in order"
    start=$(now_ms)
    kill -TERM "$root"
    code=0
    wait "$root" || code=$?
    echo "root svtree exited with $code after $(( $(now_ms) - start )) ms; processes of alice left: $(client_processes)"
    if [ "$own_user" = "svtree-alice" ]; then
        say "svctl remove --purge alice: the demo leaves no user behind"
        rm "$demo/enabled/alice"
        svctl remove --purge alice
    fi
fi
