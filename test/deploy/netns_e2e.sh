#!/usr/bin/env bash
# Several machines on one: four replicas, each in its own network namespace with its own
# address, as `belfry-setup init --hosts` and `belfry-replica --listen-host` are meant for
# hosts of their own; a client in a fifth namespace. Every namespace hangs off a bridge in a
# hub namespace by a veth pair, like machines on one switch:
#
#   belfry-TAG-r0 (10.213.0.10) ─┐
#   belfry-TAG-r1 (10.213.0.11) ─┤
#   belfry-TAG-r2 (10.213.0.12) ─┼─ br0 in belfry-TAG-hub
#   belfry-TAG-r3 (10.213.0.13) ─┤
#   belfry-TAG-cl (10.213.0.100)─┘
#
# The dealt base port is the default one (7100) whatever runs on this host: the replicas'
# ports exist only inside their namespaces, as on hosts of their own. The client runs a real 3S
# session with the `belfry` CLI (a confidential checkin and checkout, a grant to a second
# user). Then replica 1's cable is pulled (its veth end on the bridge goes down): the
# other three keep serving, a new document goes in and comes out. Plugged back in, replica 1
# catches up and becomes ready again.
#
# The test makes and removes everything itself: namespaces named belfry-TAG-* with a random
# TAG, links that live only inside them, addresses from 10.213.0.0/24 only inside them, and
# the replica processes, also when it fails (trap). Creating namespaces needs root (or
# CAP_SYS_ADMIN and CAP_NET_ADMIN); without it the test fails and says so.
# Usage: netns_e2e.sh BIN
set -euo pipefail
BIN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../e2e/wait_lib.sh"
TAG=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NS="belfry-$TAG"
NET=10.213.0
BASE_PORT=7100
WORK=$(mktemp -d /tmp/belfry-netns.XXXXXX)
CLUSTER="$WORK/cluster"
namespaces=()
pids=()
cleanup() {
  local code=$? p n
  trap '' INT TERM  # a second signal (ctest, timeout) must not cut the cleanup short
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$code" -ne 0 ] && [ -d "$WORK" ]; then
    for n in 0 1 2 3; do
      [ -f "$WORK/replica-$n.log" ] || continue
      echo "--- replica $n, last lines:" >&2
      tail -5 "$WORK/replica-$n.log" >&2
    done
  fi
  # Deleting a namespace deletes the veth ends and the bridge inside it.
  for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }

# ---- the network ----
probe_err=$(ip netns add "$NS-hub" 2>&1) ||
  fail "cannot create a network namespace ('ip netns add' said: $probe_err). This test runs \
the replicas in namespaces of their own and needs root, or CAP_SYS_ADMIN and CAP_NET_ADMIN; \
it cannot pass without them"
namespaces+=("$NS-hub")
ip -n "$NS-hub" link add br0 type bridge
ip -n "$NS-hub" link set br0 up
ip -n "$NS-hub" link set lo up
# attach NAME ADDRESS PORT: namespace NAME, with eth0 = ADDRESS/24 cabled to bridge port PORT.
attach() {
  ip netns add "$1"
  namespaces+=("$1")
  ip -n "$NS-hub" link add "$3" type veth peer name eth0 netns "$1"
  ip -n "$NS-hub" link set "$3" master br0 up
  ip -n "$1" addr add "$2/24" dev eth0
  ip -n "$1" link set eth0 up
  ip -n "$1" link set lo up
}
for k in 0 1 2 3; do attach "$NS-r$k" "$NET.1$k" "p$k"; done
attach "$NS-cl" "$NET.100" pcl
in_client() { ip netns exec "$NS-cl" "$@"; }

# ---- the cluster, dealt for four hosts ----
"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" \
  --replicas 4 --out "$CLUSTER" --users alice,bob --base-port "$BASE_PORT" \
  --hosts "$NET.10,$NET.11,$NET.12,$NET.13" >/dev/null
metrics() { echo "$NET.1$1:$((BASE_PORT + 3 * $1 + 2))"; }
for k in 0 1 2 3; do
  # `ip netns exec` enters the namespace and then execs the replica: $! is the replica.
  ip netns exec "$NS-r$k" "$BIN/belfry-replica" --config "$CLUSTER/cluster.conf" --id "$k" \
    --data "$WORK/data-$k" --listen-host "$NET.1$k" --metrics-address "$(metrics "$k")" \
    --log-format json 2>"$WORK/replica-$k.log" &
  pids+=($!)
done
scrape() { in_client curl -fsS --max-time 5 "http://$(metrics "$1")/metrics"; }
ready() { in_client "$BIN/belfry-replica" --health-check "$(metrics "$1")" 2>/dev/null; }
unreachable() { ! ready "$1"; }
for k in 0 1 2 3; do
  until_true --what "replica $k ready" ready "$k" || fail "replica $k never became ready"
done
# Peers reached each other at the dealt addresses, across the bridge.
for k in 0 1 2 3; do
  grep -q "\"remote\":\"$NET.1[0-3]:" "$WORK/replica-$k.log" ||
    fail "replica $k logged no link with a peer at a 10.213.0.1x address"
done

# ---- a 3S session from the client's namespace ----
export BELFRY_HOME="$WORK/home" BELFRY_CLUSTER="$CLUSTER/cluster.conf"
belfry() { in_client "$BIN/belfry" "$@"; }
head -c 4096 /dev/urandom >"$WORK/plans"
echo "minutes of the meeting" >"$WORK/minutes"
belfry status --key "$CLUSTER/users/alice/alice.key" >"$WORK/status.txt" ||
  { cat "$WORK/status.txt" >&2; fail "belfry status across the namespaces"; }
[ "$(grep -c ' healthy ' "$WORK/status.txt")" -eq 4 ] ||
  { cat "$WORK/status.txt" >&2; fail "not every replica healthy"; }
belfry login alice --key "$CLUSTER/users/alice/alice.key" >/dev/null
belfry login bob --key "$CLUSTER/users/bob/bob.key" >/dev/null
belfry --user alice checkin plans "$WORK/plans" --confidential >/dev/null
belfry --user alice checkin minutes "$WORK/minutes" >/dev/null
belfry --user alice grant minutes bob checkout 600 >/dev/null
belfry --user alice checkout plans --out "$WORK/plans.out" >/dev/null
cmp -s "$WORK/plans" "$WORK/plans.out" || fail "the confidential checkout returned other bytes"
belfry --user bob checkout minutes --out "$WORK/minutes.out" >/dev/null
cmp -s "$WORK/minutes" "$WORK/minutes.out" || fail "bob's granted checkout returned other bytes"
set +e
belfry --user bob checkout plans --out "$WORK/denied" >/dev/null 2>"$WORK/denied.err"
code=$?
set -e
[ "$code" -eq 4 ] ||
  { cat "$WORK/denied.err" >&2; fail "bob's checkout of plans exited $code, not 4 (denied)"; }

# ---- replica 1's cable pulled: three of four (2f+1) keep serving ----
ip -n "$NS-hub" link set p1 down
# The client cannot reach replica 1 any more. (Its peers' TCP connections to it stay
# established until a send times out, which takes TCP minutes: belfry_peer_link_up does not
# show a pulled cable at once.)
until_true --what "replica 1 unreachable from the client" unreachable 1 ||
  fail "replica 1 still answers with its cable pulled"
echo "written while replica 1 was cut off" >"$WORK/later"
belfry --user alice checkin later "$WORK/later" >/dev/null || fail "checkin with replica 1 cut off"
belfry --user bob checkout minutes --out "$WORK/minutes.2" >/dev/null ||
  fail "checkout with replica 1 cut off"
belfry --user alice checkout later --out "$WORK/later.out" >/dev/null
cmp -s "$WORK/later" "$WORK/later.out" ||
  fail "the document written without replica 1 came back otherwise"

# ---- plugged back in: replica 1 catches up on what it missed ----
ip -n "$NS-hub" link set p1 up
next_epoch() { scrape "$1" | awk '$1 == "belfry_next_epoch" { print $2 }'; }
target=$(next_epoch 0)
caught_up() { ready 1 && [ "$(next_epoch 1)" -ge "$target" ]; }
until_true --what "replica 1 ready and at epoch $target" caught_up ||
  fail "replica 1 did not catch up after its link came back"
belfry --user alice checkout later --out "$WORK/later.2" >/dev/null
cmp -s "$WORK/later" "$WORK/later.2" || fail "checkout after replica 1 came back"
echo "ok: netns (4 replicas in 4 network namespaces, a client in a fifth, one cut off and back)"
