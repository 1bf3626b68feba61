#!/usr/bin/env bash
# Regenerates ../Golden from tree/ with the svctl binary: not the test, which only compares.
# svctl runs on a copy of tree/ whose live supervisors (tree/supervisors) have an ok FIFO held
# open here, as a running supervisor holds it, and with its wall clock pinned to tree/now (a
# preloaded clock_gettime), so that ages are those of the moment the fixtures were copied.
# usage: update-golden.sh BIN_DIR (where svctl is); after make-fixtures.sh, or after a
# deliberate change of svctl's output. Review the diff before committing it.
set -euo pipefail
bin=$(cd "${1:?usage: update-golden.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
golden=$(cd "$here/../Golden" && pwd)
work=$(mktemp -d /tmp/svctl-golden-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -a "$here/tree" "$work/tree"
tree=$work/tree
while read -r state dir; do
    mkfifo -m 0600 "$tree/$dir/ok"
    if [ "$state" = live ]; then exec {held}<>"$tree/$dir/ok"; fi
done < "$tree/supervisors"

cat > "$work/clock.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
/* CLOCK_REALTIME reads SVCTL_GOLDEN_NOW (Unix seconds); every other clock is the real one. */
int clock_gettime(clockid_t id, struct timespec *ts) {
    static int (*real)(clockid_t, struct timespec *);
    const char *now = getenv("SVCTL_GOLDEN_NOW");
    if (id == CLOCK_REALTIME && now) {
        ts->tv_sec = atoll(now);
        ts->tv_nsec = 0;
        return 0;
    }
    if (!real) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    return real(id, ts);
}
C
cc -shared -fPIC -O1 -o "$work/clock.so" "$work/clock.c" -ldl

# svctl status ARGS... > Golden/FILE, the copy's path written $TREE. Its exit code is the
# health (2 here): what matters is that it printed.
golden() {
    local file=$1 code=0
    shift
    env -u SVTREE_ROOT -u SVTREE_CLIENTS -u SVTREE_DATA LD_PRELOAD="$work/clock.so" SVCTL_GOLDEN_NOW="$(cat "$tree/now")" \
        "$bin/svctl" status --root "$tree/enabled" --clients "$tree/clients" --data "$tree/data" "$@" > "$work/out" || code=$?
    [ -s "$work/out" ] || { echo "update-golden: svctl status $* printed nothing (exit $code)" >&2; exit 1; }
    sed "s|$tree|\$TREE|g" "$work/out" > "$golden/$file"
    echo "$golden/$file: svctl exit $code"
}
golden summary.txt
golden detail.txt alice bob carol dave erin frank zoe
golden status.json --json alice bob carol frank
