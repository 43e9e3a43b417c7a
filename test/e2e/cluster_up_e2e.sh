#!/usr/bin/env bash
# `belfry-cluster up` after every replica died at once, leaving PID files behind that name
# other processes: a live unrelated one (a PID the system reused), a zombie and a dead
# one. `up` once trusted kill(pid, 0), skipped the replicas whose PID "was alive" and then
# failed with "not serving after 30 s". It must instead see that those PIDs are not the
# replicas, remove the stale files with a message, start all four and serve; and `down`
# must never signal the unrelated process. Usage: cluster_up_e2e.sh BIN BASE_PORT
set -euo pipefail
BIN=$1
BASE_PORT=$2
WORK=$(mktemp -d /tmp/belfry-up.XXXXXX)
CLUSTER="$WORK/cluster"
export BELFRY_HOME="$WORK/home" BELFRY_CLUSTER="$CLUSTER/cluster.conf"
SLEEP_PID=""
ZOMBIE_PARENT=""
cleanup() {
  "$BIN/belfry-cluster" down --dir "$CLUSTER" >/dev/null 2>&1 || true
  for p in $SLEEP_PID $ZOMBIE_PARENT; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
source "$(dirname "$0")/wait_lib.sh"

"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" \
  --replicas 4 --out "$CLUSTER" --users alice --base-port "$BASE_PORT" >/dev/null
mkdir -p "$CLUSTER/run"

# replica-0: a live process that is not a replica (as when the PID was reused).
sleep 600 &
SLEEP_PID=$!
echo "$SLEEP_PID" > "$CLUSTER/run/replica-0.pid"

# replica-1: a zombie. The child of a `sleep` that never reaps it stays in state Z.
sh -c 'sleep 0 & echo $! > "$1"; exec sleep 600' sh "$WORK/zombie.pid" &
ZOMBIE_PARENT=$!
# The state letter of /proc/PID/stat: the first field after the parenthesised name.
state_of() { awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null; }
zombie_ready() { [ -s "$WORK/zombie.pid" ] && [ "$(state_of "$(cat "$WORK/zombie.pid")")" = Z ]; }
until_true --what "a zombie process" zombie_ready || fail "could not make a zombie"
cp "$WORK/zombie.pid" "$CLUSTER/run/replica-1.pid"

# replica-2: a process that has exited and been reaped.
sh -c 'exit 0' &
DEAD_PID=$!
wait "$DEAD_PID"
echo "$DEAD_PID" > "$CLUSTER/run/replica-2.pid"

# replica-3: an empty PID file.
: > "$CLUSTER/run/replica-3.pid"

"$BIN/belfry-cluster" up --dir "$CLUSTER" --timeout-s 60 > "$WORK/up.out" 2>&1 ||
  { cat "$WORK/up.out" >&2; fail "belfry-cluster up did not start the cluster"; }
for id in 0 1 2 3; do
  grep -q "^replica-$id: removing stale PID file" "$WORK/up.out" ||
    { cat "$WORK/up.out" >&2; fail "no stale PID file message for replica-$id"; }
  grep -q "^replica-$id serving on" "$WORK/up.out" ||
    { cat "$WORK/up.out" >&2; fail "replica-$id was not started"; }
done
grep -q "is sleep, not belfry-replica" "$WORK/up.out" || fail "the reused PID was not named"
grep -q "has exited (state Z)" "$WORK/up.out" || fail "the zombie was not named"

# All four really serve: a status signed by every replica, and a session through them.
"$BIN/belfry-cluster" status --dir "$CLUSTER" >/dev/null || fail "status: not all replicas up"
"$BIN/belfry" login alice --key "$CLUSTER/users/alice/alice.key" >/dev/null
echo "after a restart" > "$WORK/doc"
"$BIN/belfry" checkin doc "$WORK/doc" >/dev/null
"$BIN/belfry" checkout doc --out "$WORK/doc.out" >/dev/null
cmp -s "$WORK/doc" "$WORK/doc.out" || fail "checkout returned other bytes"

# A second `up` recognises the real replicas and starts nothing.
"$BIN/belfry-cluster" up --dir "$CLUSTER" > "$WORK/up2.out" 2>&1 ||
  { cat "$WORK/up2.out" >&2; fail "a second up failed"; }
[ "$(grep -c 'already running' "$WORK/up2.out")" -eq 4 ] ||
  { cat "$WORK/up2.out" >&2; fail "a second up did not find the four replicas running"; }

# `down` stops the replicas and leaves an unrelated process named by a stale file alone.
"$BIN/belfry-cluster" down --dir "$CLUSTER" >/dev/null
echo "$SLEEP_PID" > "$CLUSTER/run/replica-0.pid"
"$BIN/belfry-cluster" down --dir "$CLUSTER" --replicas 0 >/dev/null || true
kill -0 "$SLEEP_PID" 2>/dev/null || fail "down signalled a process that is not a replica"
echo "PASS"
