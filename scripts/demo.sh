#!/usr/bin/env bash
# The README's demo: a root svtree over ./demo/enabled with one client (two services, each
# with a logger), shown at work. DEMO_HOLD=1 keeps the tree running until Ctrl-C.
set -euo pipefail
bin=${1:?usage: demo.sh BIN_DIR}
export PATH="$bin:$PATH"
top=$(pwd)
demo="$top/demo"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Every process svtree started for alice carries SVTREE_SERVICE=<its service dir>, inherited below.
client_pids() { grep -l "SVTREE_SERVICE=$demo/clients/alice" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 || true; }
client_processes() { client_pids | wc -l; }
wait_for() { # wait_for SECONDS COMMAND...: bounded wait for a condition
    local limit=$(( $(now_ms) + $1 * 1000 )); shift
    until "$@"; do [ "$(now_ms)" -lt "$limit" ] || { echo "demo: timed out waiting for: $*" >&2; return 1; }; sleep 0.01; done
}
running() { for s in storage snapwatch; do sv status "$demo/clients/alice/services/$s" 2>/dev/null | grep -q '^run: .*; run: log:' || return 1; done; }
gone() { [ "$(client_processes)" -eq 0 ]; }

rm -rf "$demo"
mkdir -p "$demo/enabled" "$demo/clients"
cp -r "$top/service-templates/client" "$demo/clients/alice"
for service in storage snapwatch; do
    dir="$demo/clients/alice/services/$service"
    mkdir -p "$dir/log/main"
    printf '#!/bin/sh\nexec 2>&1\necho "%s: started as pid $$"\nwhile :; do echo "%s: still serving"; sleep 5; done\n' \
        "$service" "$service" > "$dir/run"
    printf '#!/bin/sh\nexec svlog -tt ./main\n' > "$dir/log/run"
    chmod +x "$dir/run" "$dir/log/run"
done
mkdir -p "$demo/clients/alice/log/main"

say "root svtree over $demo/enabled (pid shown below); Ctrl-C ends it cleanly"
svtree "$demo/enabled" &
root=$!
# Whatever happens, the demo never leaves its tree running.
trap 'kill -TERM $root 2>/dev/null || true' INT TERM
trap 'kill -TERM $root 2>/dev/null && wait $root' EXIT

say "enable alice: ln -s clients/alice enabled/alice"
start=$(now_ms)
ln -s "$demo/clients/alice" "$demo/enabled/alice"
wait_for 10 running
echo "both services and their loggers running $(( $(now_ms) - start )) ms after ln -s"
sv status "$demo/clients/alice" "$demo/clients/alice/services/"*
echo "the tree (every service in its own session; svtree holds the log pipes):"
ps -o pid,ppid,sid,args --forest -p "$root,$(client_pids | paste -sd,)"

say "kill -9 the storage service: svtree starts it again at once"
old=$(cat "$demo/clients/alice/services/storage/supervise/pid")
start=$(now_ms)
kill -9 "$old"
wait_for 5 sh -c "p=\$(cat '$demo/clients/alice/services/storage/supervise/pid'); [ -n \"\$p\" ] && [ \"\$p\" != $old ]"
echo "storage back as pid $(cat "$demo/clients/alice/services/storage/supervise/pid") after $(( $(now_ms) - start )) ms"
sleep 0.2
echo "its log (svlog, svlogd's format, through the pipe svtree holds):"
tail -n 3 "$demo/clients/alice/services/storage/log/main/current"

say "disable alice: rm enabled/alice"
start=$(now_ms)
rm "$demo/enabled/alice"
wait_for 10 gone
echo "every process of alice gone $(( $(now_ms) - start )) ms after rm"

ln -s "$demo/clients/alice" "$demo/enabled/alice"
wait_for 10 running
if [ "${DEMO_HOLD:-0}" = 1 ]; then
    say "alice enabled again; the tree runs until Ctrl-C (try: sv status $demo/clients/alice/services/*)"
    wait "$root" || true
else
    say "SIGTERM to the root: the whole tree goes down in order"
    start=$(now_ms)
    kill -TERM "$root"
    code=0
    wait "$root" || code=$?
    echo "root svtree exited with $code after $(( $(now_ms) - start )) ms; processes of alice left: $(client_processes)"
fi
