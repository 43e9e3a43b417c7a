#!/usr/bin/env bash
# The Belfry demo: a real 4-replica cluster on this machine (mutual TLS, RocksDB, separate
# processes) and a real 3S session through the `belfry` CLI. Run it with `make demo`.
set -euo pipefail

BIN=${BIN:-build/bin}
DEMO=${DEMO_DIR:-$(mktemp -d /tmp/belfry-demo.XXXXXX)}
export BELFRY_HOME="$DEMO/home"
export BELFRY_CLUSTER="$DEMO/cluster/cluster.conf"
BASE_PORT=${BASE_PORT:-17100}

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
STEPS=0     # commands run that had to succeed
REFUSALS=0  # commands that had to be refused, and were
run()  { printf '$ %s\n' "$*"; "$@"; STEPS=$((STEPS + 1)); }
# Runs a command that must fail with the given exit code, and shows its message.
refused() {
  local want=$1; shift
  printf '$ %s\n' "$*"
  set +e; "$@"; local rc=$?; set -e
  if [ "$rc" -ne "$want" ]; then
    echo "demo: expected exit code $want, got $rc" >&2; exit 1
  fi
  echo "   (refused as expected, exit $rc)"
  REFUSALS=$((REFUSALS + 1))
}
cleanup() {
  "$BIN/belfry-cluster" down --dir "$DEMO/cluster" >/dev/null 2>&1 || true
  # The folder holds the cluster's secrets: keep it only when asked to (KEEP=1).
  if [ "${KEEP:-0}" != 1 ] && [ -z "${DEMO_DIR:-}" ]; then rm -rf "$DEMO"; fi
}
trap cleanup EXIT

say "Dealer: 4 replicas (f = 1), users alice, bob, carol"
run "$BIN/belfry-setup" init --replicas 4 --out "$DEMO/cluster" --users alice,bob,carol --base-port "$BASE_PORT"

say "Start the cluster"
run "$BIN/belfry-cluster" up --dir "$DEMO/cluster"
run "$BIN/belfry" status

U="$DEMO/cluster/users"
as() { local who=$1; shift; "$BIN/belfry" --user "$who" "$@"; }

say "Logins (each user signs with the key in their certificate)"
run "$BIN/belfry" login alice --key "$U/alice/alice.key"
run "$BIN/belfry" login bob --key "$U/bob/bob.key"
run "$BIN/belfry" login carol --key "$U/carol/carol.key"

printf 'the launch codes are 0000\n' > "$DEMO/secret.txt"
printf 'minutes of the board meeting\n' > "$DEMO/minutes.txt"

say "alice checks in a confidential and an integrity document"
run as alice checkin plans "$DEMO/secret.txt" --confidential
run as alice checkin minutes "$DEMO/minutes.txt" --integrity
if grep -rqa 'launch codes' "$DEMO/cluster/data"; then
  echo "demo: plaintext found in a replica's data directory" >&2; exit 1
fi
echo "   no replica's data directory holds the plaintext of 'plans'"

say "bob may not read them yet"
refused 4 as bob checkout plans

say "alice grants bob checkout of 'plans' for 30 s; bob reads it"
run as alice grant plans bob checkout 30
run as bob checkout plans
refused 4 as bob checkout minutes

say "carol has no grant"
refused 4 as carol checkout plans

say "One replica is killed; the cluster keeps serving (3 of 4 >= 2f+1)"
run "$BIN/belfry-cluster" down --dir "$DEMO/cluster" --replicas 3
run as alice checkout minutes --out "$DEMO/minutes.out" --integrity-cert "$DEMO/minutes.cms"
run cat "$DEMO/minutes.out"

say "Anyone checks the minutes with ca.crt and service.crt alone: Belfry, or stock OpenSSL"
run "$BIN/belfry" verify "$DEMO/minutes.out" "$DEMO/minutes.cms" \
  --ca "$DEMO/cluster/ca.crt" --service-cert "$DEMO/cluster/service.crt"
run openssl cms -verify -binary -inform DER -in "$DEMO/minutes.cms" -content "$DEMO/minutes.out" \
  -CAfile "$DEMO/cluster/ca.crt" -certfile "$DEMO/cluster/service.crt" -purpose any -out /dev/null

say "alice deletes 'plans'; bob's checkout then fails"
run as alice delete plans
refused 5 as bob checkout plans

say "The killed replica restarts and catches up"
run "$BIN/belfry-cluster" up --dir "$DEMO/cluster" --replicas 3
run as alice checkin notes "$DEMO/minutes.txt"
sleep 1  # give the restarted replica a moment to fetch the epochs it missed
run "$BIN/belfry" status

say "Logouts"
run as alice logout
run as bob logout
run as carol logout
refused 3 as alice checkout minutes

say "Demo finished; stopping the cluster"
# One line that says what ran and where the cluster's folder is (or was).
if [ "${KEEP:-0}" = 1 ] || [ -n "${DEMO_DIR:-}" ]; then
  where="kept in $DEMO/cluster (it holds the cluster's keys; belfry-cluster up --dir restarts it)"
else
  where="was $DEMO/cluster, removed as the demo exits (KEEP=1 keeps it)"
fi
echo "demo: OK: 4 replicas (f = 1), 3 users, $STEPS commands succeeded and $REFUSALS were" \
  "refused as expected, replica 3 stopped and caught up; the cluster folder $where"
