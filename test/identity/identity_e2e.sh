#!/usr/bin/env bash
# TLS and identity attacks on a real 4-replica cluster, with `openssl s_client` as the
# outside client (SECURITY.md, "Network and identity"):
#  1. TLS 1.2, no certificate, a foreign CA's certificate, an expired and a not-yet-valid
#     one, a user certificate on the peer port and a replica certificate on the client
#     port: each refused, and the replica's refusal counter for that reason moves;
#  2. no session ticket is ever issued, so nothing can be resumed or sent as 0-RTT (a
#     stock `openssl s_server` shows the same check does see tickets);
#  3. revocation: `belfry-setup revoke` + SIGHUP closes the revoked user's open
#     connection and refuses it from then on, while other users carry on; a bad
#     certificate file makes the reload fail and the replica keep its old credentials;
#  4. rolling rotation under load: every replica's certificate renewed and reloaded one
#     by one, then the old ones revoked, while belfry-bench runs: no operation fails, and
#     an old replica certificate is refused afterwards;
#  5. replays and forgeries (identity-probe): captured logins and requests, another
#     user's or an ended session's key, a request made for another cluster — each
#     refused or answered from the stored result, and every replica's 3S state digest is
#     the same before and after;
#  6. a replica that claims another's identity inside its messages (peer-impostor: a
#     VALUE of another's proposal, a coin share with another's index) is ignored and
#     blamed, and the replica it claimed to be is not.
# Usage: identity_e2e.sh BIN PROBE IMPOSTOR BASE_PORT
set -euo pipefail
BIN=$1
PROBE=$2
IMPOSTOR=$3
BASE_PORT=$4
WORK=$(mktemp -d /tmp/belfry-identity.XXXXXX)
CLUSTER="$WORK/cluster"
OTHER="$WORK/other"
export BELFRY_HOME="$WORK/home" BELFRY_CLUSTER="$CLUSTER/cluster.conf"
BG_PIDS=()
cleanup() {
  for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] && { echo "kept $WORK"; return 0; }
  "$BIN/belfry-cluster" down --dir "$CLUSTER" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

PEER_PORT=$BASE_PORT            # replica 0
CLIENT_PORT=$((BASE_PORT + 1))  # replica 0
METRICS_PORT=$((BASE_PORT + 2))
TICKET_PORT=$((BASE_PORT + 50))
scrape() { curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics"; }
value_of() { scrape | awk -v s="$1" '$1 == s { print $2; found=1 } END { if (!found) print 0 }'; }
# series $1 reaches at least $2: an event, checked every 0.1 s; the 60 s bound only turns
# a hang into a failure, so a slow machine cannot change the outcome.
wait_value() {
  for _ in $(seq 1 600); do
    [ "$(value_of "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "  $1 = $(value_of "$1"), wanted >= $2" >&2
  return 1
}
hup_all() { for r in 0 1 2 3; do kill -HUP "$(cat "$CLUSTER/run/replica-$r.pid")"; done; }
# shellcheck source=../e2e/wait_lib.sh
. "$(dirname "$0")/../e2e/wait_lib.sh"
sum_of() { local t=0 r; for r in 0 1 2 3; do t=$((t + $(metric_at "$r" "$1"))); done; echo "$t"; }
user_files() { echo "-cert $CLUSTER/users/$1/$1.crt -key $CLUSTER/users/$1/$1.key"; }

# s_client to 127.0.0.1:$1 with the rest as options. Succeeds when the connection is
# still open after 1.5 s (the server accepted the peer); its output is in $WORK/s.out.
tls_try() {
  local port=$1
  shift
  (sleep 1.5) | timeout 15 openssl s_client -connect "127.0.0.1:$port" -CAfile "$CLUSTER/ca.crt" \
    "$@" > "$WORK/s.out" 2>&1
}
# expect_refused NAME SERIES PORT OPTIONS...: refused, and the counter SERIES moved.
expect_refused() {
  local name=$1 series=$2
  shift 2
  local before
  before=$(value_of "$series")
  if tls_try "$@"; then
    cat "$WORK/s.out" >&2
    fail "$name: the connection was accepted"
  fi
  wait_value "$series" $((before + 1)) || fail "$name: $series did not move"
  echo "  refused: $name ($(grep -oE 'alert [a-z ]+|unexpected eof' "$WORK/s.out" | head -1))"
}

now=$(date +%s)
"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" --replicas 4 --out "$CLUSTER" --users alice,bob,carol --base-port "$BASE_PORT" >/dev/null
"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" --replicas 4 --out "$OTHER" --users mallory --base-port "$BASE_PORT" >/dev/null
"$BIN/belfry-setup" add-user --dir "$CLUSTER" expired --valid-from $((now - 7200)) --valid-until $((now - 3600)) >/dev/null
"$BIN/belfry-setup" add-user --dir "$CLUSTER" early --valid-from $((now + 3600)) --valid-until $((now + 7200)) >/dev/null
"$BIN/belfry-cluster" up --dir "$CLUSTER" >/dev/null

# ---- 1. who may connect ----
step "TLS profile and certificates"
tls_try "$CLIENT_PORT" $(user_files alice) || { cat "$WORK/s.out" >&2; fail "alice's valid certificate was refused"; }
grep -q 'New, TLSv1.3' "$WORK/s.out" || fail "the accepted connection is not TLS 1.3"
echo "  accepted: alice, TLS 1.3"
CLIENT_TLS='belfry_client_connections_refused_total{reason="tls"}'
CLIENT_ROLE='belfry_client_connections_refused_total{reason="role"}'
PEER_TLS='belfry_peer_connections_refused_total{reason="tls"}'
PEER_ROLE='belfry_peer_connections_refused_total{reason="role"}'
expect_refused "TLS 1.2 on the client port" "$CLIENT_TLS" "$CLIENT_PORT" -tls1_2 $(user_files alice)
grep -q 'alert protocol version' "$WORK/s.out" || fail "TLS 1.2 was not refused with a protocol_version alert"
expect_refused "TLS 1.2 on the peer port" "$PEER_TLS" "$PEER_PORT" -tls1_2 \
  -cert "$CLUSTER/replicas/replica-1/tls.crt" -key "$CLUSTER/replicas/replica-1/tls.key"
expect_refused "no certificate" "$CLIENT_TLS" "$CLIENT_PORT"
grep -q 'certificate required' "$WORK/s.out" || fail "no certificate: no certificate_required alert"
expect_refused "no certificate on the peer port" "$PEER_TLS" "$PEER_PORT"
expect_refused "another cluster's CA" "$CLIENT_TLS" "$CLIENT_PORT" \
  -cert "$OTHER/users/mallory/mallory.crt" -key "$OTHER/users/mallory/mallory.key"
grep -q 'unknown ca' "$WORK/s.out" || fail "foreign CA: no unknown_ca alert"
expect_refused "another cluster's replica on the peer port" "$PEER_TLS" "$PEER_PORT" \
  -cert "$OTHER/replicas/replica-1/tls.crt" -key "$OTHER/replicas/replica-1/tls.key"
expect_refused "expired certificate" "$CLIENT_TLS" "$CLIENT_PORT" $(user_files expired)
grep -q 'certificate expired' "$WORK/s.out" || fail "expired: no certificate_expired alert"
expect_refused "not yet valid certificate" "$CLIENT_TLS" "$CLIENT_PORT" $(user_files early)
expect_refused "user certificate on the peer port" "$PEER_ROLE" "$PEER_PORT" $(user_files alice)
expect_refused "replica certificate on the client port" "$CLIENT_ROLE" "$CLIENT_PORT" \
  -cert "$CLUSTER/replicas/replica-1/tls.crt" -key "$CLUSTER/replicas/replica-1/tls.key"

# ---- 2. no resumption, no 0-RTT ----
step "no session tickets"
rm -f "$WORK/sess.pem"
tls_try "$CLIENT_PORT" $(user_files alice) -sess_out "$WORK/sess.pem" || fail "alice refused"
grep -q 'Early data was not sent' "$WORK/s.out" || fail "s_client reports early data"
[ ! -e "$WORK/sess.pem" ] || fail "a replica issued a resumable session (ticket)"
# The same check against a server that does issue tickets must see one.
openssl s_server -accept "$TICKET_PORT" -tls1_3 -naccept 1 -quiet \
  -cert "$CLUSTER/replicas/replica-0/tls.crt" -key "$CLUSTER/replicas/replica-0/tls.key" >/dev/null 2>&1 &
BG_PIDS+=($!)
sleep 0.5
(sleep 1) | timeout 10 openssl s_client -connect "127.0.0.1:$TICKET_PORT" -CAfile "$CLUSTER/ca.crt" \
  -sess_out "$WORK/control.pem" >/dev/null 2>&1 || true
[ -s "$WORK/control.pem" ] || fail "control: the ticket check cannot see a ticket from a stock server"
echo "  no ticket from the replica (a stock server's ticket is seen)"

# ---- 3. revocation and reload ----
step "revocation on SIGHUP"
"$BIN/belfry" login alice --key "$CLUSTER/users/alice/alice.key" >/dev/null
"$BIN/belfry" login bob --key "$CLUSTER/users/bob/bob.key" >/dev/null
echo "alice's notes" > "$WORK/notes.txt"
"$BIN/belfry" --user alice checkin notes "$WORK/notes.txt" --integrity >/dev/null
(sleep 30) | openssl s_client -connect "127.0.0.1:$CLIENT_PORT" -CAfile "$CLUSTER/ca.crt" \
  $(user_files bob) > "$WORK/bob-open.out" 2>&1 &
BOB_PID=$!
BG_PIDS+=($BOB_PID)
sleep 1
kill -0 "$BOB_PID" 2>/dev/null || fail "bob's connection did not stay open before the revocation"
"$BIN/belfry-setup" revoke --dir "$CLUSTER" --user bob >/dev/null
hup_all
wait_value 'belfry_credential_reloads_total{result="ok"}' 1 || fail "replica 0 did not reload"
for _ in $(seq 1 50); do kill -0 "$BOB_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$BOB_PID" 2>/dev/null && fail "bob's open connection survived the revocation"
wait_value belfry_client_connections_closed_untrusted_total 1 || fail "closed connection not counted"
echo "  bob's open connection was closed"
expect_refused "revoked certificate" "$CLIENT_TLS" "$CLIENT_PORT" $(user_files bob)
grep -q 'certificate revoked' "$WORK/s.out" || fail "revoked: no certificate_revoked alert"
if "$BIN/belfry" --user bob --timeout 5 checkin bobs "$WORK/notes.txt" --integrity > "$WORK/bob-cli.out" 2>&1; then
  fail "the revoked user could still check in"
fi
"$BIN/belfry" --user alice checkout notes --out "$WORK/notes.out" >/dev/null
cmp -s "$WORK/notes.txt" "$WORK/notes.out" || fail "alice's checkout after the revocation differs"
echo "  the CLI refuses bob and serves alice"

step "a broken certificate file keeps the old credentials"
cp "$CLUSTER/replicas/replica-0/tls.crt" "$WORK/tls.crt.saved"
echo "not a certificate" > "$CLUSTER/replicas/replica-0/tls.crt"
kill -HUP "$(cat "$CLUSTER/run/replica-0.pid")"
wait_value 'belfry_credential_reloads_total{result="failed"}' 1 || fail "the bad reload was not counted"
tls_try "$CLIENT_PORT" $(user_files alice) || fail "replica 0 stopped serving after a bad reload"
cp "$WORK/tls.crt.saved" "$CLUSTER/replicas/replica-0/tls.crt"
echo "  reload refused, replica still serving"

# ---- 4. rolling rotation under load ----
step "rolling rotation under load"
"$BIN/belfry-bench" --dir "$CLUSTER" --clients 4 --mix checkin=60,checkout=40 --size 256 \
  --seconds 25 --ops 100000 --json "$WORK/bench.json" > "$WORK/bench.out" 2>&1 &
BENCH_PID=$!
BG_PIDS+=($BENCH_PID)
sleep 4
for r in 0 1 2 3; do
  cp "$CLUSTER/replicas/replica-$r/tls.crt" "$WORK/old-replica-$r.crt"
  cp "$CLUSTER/replicas/replica-$r/tls.key" "$WORK/old-replica-$r.key"
  "$BIN/belfry-setup" renew --dir "$CLUSTER" --replica "$r" >/dev/null
  kill -HUP "$(cat "$CLUSTER/run/replica-$r.pid")"
  sleep 1.5
done
for r in 0 1 2 3; do
  "$BIN/belfry-setup" revoke --dir "$CLUSTER" --cert "$WORK/old-replica-$r.crt" >/dev/null
done
RELOADS='belfry_credential_reloads_total{result="ok"}'
declare -a reloads_before
for r in 0 1 2 3; do reloads_before[$r]=$(metric_at "$r" "$RELOADS"); done
hup_all
# Each link between two replicas is cut by whichever end reloads the CRL first; the other
# end then sees an ordinary disconnect. So which replica counts the cut depends on timing,
# but the sum over all four does not: wait for every reload to finish, then for the cut.
all_reloaded() { local r; for r in 0 1 2 3; do [ "$(metric_at "$r" "$RELOADS")" -gt "${reloads_before[$r]}" ] || return 1; done; }
until_true --what "every replica reloaded the CRL" all_reloaded || fail "a replica did not reload the CRL"
cut_seen() { [ "$(sum_of belfry_peer_links_closed_untrusted_total)" -ge 1 ]; }
until_true --what "a link on an old certificate cut" cut_seen ||
  fail "no link on an old certificate was cut (belfry_peer_links_closed_untrusted_total summed over replicas = 0)"
wait "$BENCH_PID" || { cat "$WORK/bench.out" >&2; fail "belfry-bench failed during the rotation"; }
errors=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["errors"])' "$WORK/bench.json")
ops=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("ops", d.get("operations", 0)))' "$WORK/bench.json")
[ "$errors" = 0 ] || { cat "$WORK/bench.out" >&2; fail "$errors operations failed during the rotation"; }
echo "  $ops operations, 0 failed, while all four certificates were rotated and the old ones revoked"
expect_refused "an old replica certificate after rotation" "$PEER_TLS" "$PEER_PORT" \
  -cert "$WORK/old-replica-1.crt" -key "$WORK/old-replica-1.key"
grep -q 'certificate revoked' "$WORK/s.out" || fail "old replica certificate: no certificate_revoked alert"
"$BIN/belfry" --user alice checkout notes --out "$WORK/notes.out" >/dev/null
cmp -s "$WORK/notes.txt" "$WORK/notes.out" || fail "alice's checkout after the rotation differs"

# ---- 5. replays and forgeries, with the state digest before and after ----
step "replays and forgeries"
mkdir -p "$WORK/capture"
"$PROBE" prepare --config "$CLUSTER/cluster.conf" --users "$CLUSTER/users" --out "$WORK/capture"
digests() {
  "$BIN/belfry-cluster" down --dir "$CLUSTER" >/dev/null
  for r in 0 1 2 3; do "$PROBE" digest --data "$CLUSTER/data/replica-$r"; done
}
before=$(digests)
[ "$(echo "$before" | sort -u | wc -l)" = 1 ] || fail "replicas disagree before the attack: $before"
"$BIN/belfry-cluster" up --dir "$CLUSTER" >/dev/null
"$PROBE" attack --config "$CLUSTER/cluster.conf" --users "$CLUSTER/users" --in "$WORK/capture" \
  --other-config "$OTHER/cluster.conf" || fail "a replay or forgery was not refused"
after=$(digests)
[ "$before" = "$after" ] || fail "the state changed: before $before, after $after"
echo "  3S state digests equal on all 4 replicas, before = after: $(echo "$before" | head -1)"

# ---- 6. a replica claiming to be another ----
step "sender identity inside messages"
"$BIN/belfry-cluster" up --dir "$CLUSTER" --replicas 0,1,2 >/dev/null
epoch=$(value_of belfry_next_epoch)
"$IMPOSTOR" --config "$CLUSTER/cluster.conf" --id 3 --claim 1 --epoch "$epoch"
# Run epoch $epoch, where the impostor's messages are judged.
"$BIN/belfry" login alice --key "$CLUSTER/users/alice/alice.key" >/dev/null
"$BIN/belfry" --user alice checkin notes "$WORK/notes.txt" --integrity >/dev/null
wait_value 'belfry_peer_faults_by_kind_total{peer="3",kind="invalid_coin_share"}' 1 ||
  fail "the relabelled coin share was not blamed on replica 3"
wait_value 'belfry_peer_faults_by_kind_total{peer="3",kind="unexpected_sender"}' 1 ||
  fail "the VALUE of replica 1's proposal was not blamed on replica 3"
if scrape | grep -E '^belfry_peer_faults_by_kind_total\{peer="1"' >&2; then
  fail "replica 1, whose identity was claimed, was blamed"
fi
echo "  blamed on replica 3: invalid_coin_share, unexpected_sender; nothing on replica 1"
echo "identity e2e: OK"
