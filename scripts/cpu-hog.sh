#!/bin/sh
# Run a command while a busy loop spins on every core (`make test-stress`): a test that only
# passes on an idle machine -- one that sleeps instead of waiting for a condition, or whose
# deadline is tight -- fails here.  The hogs are this script's own children, killed on exit.
#
# Usage: sh scripts/cpu-hog.sh COMMAND [ARG...]     (DKENV_HOGS=N: N loops instead of one per core)
set -eu

python=${PYTHON:-python3}
hogs=${DKENV_HOGS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
pids=""
stop_hogs() {
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
}
trap stop_hogs EXIT
trap 'stop_hogs; exit 130' INT TERM

i=0
while [ "$i" -lt "$hogs" ]; do
    "$python" -c 'while True: pass' &
    pids="$pids $!"
    i=$((i + 1))
done
printf 'cpu-hog.sh: %s busy loop(s) running (pids%s)\n' "$hogs" "$pids" >&2

status=0
"$@" || status=$?
exit "$status"
