#!/usr/bin/env bash
# Confidential means confidential, against real processes (SECURITY.md, "Confidential
# documents"). Replica 3 is belfry-replica-byzantine with `leak-requests`: it writes every
# request it orders to a folder, as a compromised replica (or its stolen disk) would. From
# that folder an outsider takes alice's confidential checkout and replays it
#   1. as bob, a registered user with no right on the document;
#   2. as alice herself, after she logged out;
#   3. as carol, after she was revoked: first by an ordered revocation, which every correct
#      replica then enforces at execution (her own new requests get USER_REVOKED
#      everywhere), then at the connections (CRL + SIGHUP on the correct replicas; the
#      faulty one keeps accepting her, and relays her next request into consensus, where
#      every correct replica refuses it at execution);
#   4. as mallory, whose certificate comes from another cluster's CA;
# each time trying everything received to decrypt: the share attachments as plain shares
# and opened as sealed boxes with its own key (share-thief). Then a canary grep over all
# that was received and written must find no plaintext. Last, with the cluster stopped,
# the correct replicas' stores must hold one state: same epoch, log head and state digest.
# Usage: confidential_e2e.sh BIN SHARE_THIEF BASE_PORT
set -euo pipefail
BIN=$1
THIEF=$2
BASE_PORT=$3
WORK=$(mktemp -d /tmp/belfry-confidential.XXXXXX)
CLUSTER="$WORK/cluster"
OTHER="$WORK/other"
LEAKS="$WORK/leaks"
export BELFRY_HOME="$WORK/home" BELFRY_CLUSTER="$CLUSTER/cluster.conf"
BYZ_PID=""
cleanup() {
  [ -n "$BYZ_PID" ] && { kill "$BYZ_PID" 2>/dev/null || true; wait "$BYZ_PID" 2>/dev/null || true; }
  "$BIN/belfry-cluster" down --dir "$CLUSTER" >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] && { echo "kept $WORK"; return 0; }
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
# shellcheck source=../e2e/wait_lib.sh
. "$(dirname "$0")/../e2e/wait_lib.sh"

# A value no correct component may ever hand to the wrong party.
CANARY="canary-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" --replicas 4 --out "$CLUSTER" --users alice,bob,carol --base-port "$BASE_PORT" >/dev/null
"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" --replicas 4 --out "$OTHER" --users mallory --base-port "$BASE_PORT" >/dev/null
mkdir -p "$CLUSTER/data/replica-3" "$CLUSTER/logs" "$LEAKS"
"$BIN/belfry-cluster" up --dir "$CLUSTER" --replicas 0,1,2 >/dev/null
"$BIN/belfry-replica-byzantine" --config "$CLUSTER/cluster.conf" --id 3 --data "$CLUSTER/data/replica-3" \
  --byzantine leak-requests --leak-dir "$LEAKS" > "$CLUSTER/logs/replica-3.log" 2>&1 &
BYZ_PID=$!
client_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$((BASE_PORT + 3 * 3 + 1))") 2>/dev/null; }
until_true client_port_open || fail "the faulty replica's client port never opened"

step "alice checks in a confidential document, checks it out, logs out"
for u in alice bob carol; do "$BIN/belfry" login "$u" --key "$CLUSTER/users/$u/$u.key" >/dev/null; done
printf '%s\n' "$CANARY: the merger terms" > "$WORK/secret.txt"
"$BIN/belfry" --user alice checkin merger "$WORK/secret.txt" --confidential >/dev/null
"$BIN/belfry" --user alice checkout merger --out "$WORK/alice.out" >/dev/null
cmp -s "$WORK/secret.txt" "$WORK/alice.out" || fail "alice cannot read her own document"
echo "  alice read it back"
# The faulty replica leaks the checkout once it has ordered it.
leaked() { request=$("$THIEF" find --leaks "$LEAKS" --doc merger | head -1); [ -n "$request" ]; }
request=""
until_true leaked || fail "the faulty replica did not leak alice's checkout"
echo "  the faulty replica leaked alice's checkout: $(basename "$request")"

replay() {  # NAME CERT KEY: replays alice's checkout as that identity; fails if it decrypts
  local name=$1 cert=$2 key=$3 rc=0
  "$THIEF" replay --config "$CLUSTER/cluster.conf" --cert "$cert" --key "$key" --request "$request" \
    --out "$WORK/got-$name" > "$WORK/thief-$name.out" 2>&1 || rc=$?
  [ "$rc" = 3 ] && fail "$name decrypted alice's document from the replies"
  [ "$rc" = 0 ] || fail "$name: share-thief failed (exit $rc)"
  cat "$WORK/thief-$name.out"
}

step "1. bob (no right) replays alice's checkout"
out=$(replay bob "$CLUSTER/users/bob/bob.crt" "$CLUSTER/users/bob/bob.key")
echo "$out" | grep -v '^ts=' | sed 's/^/    /'
echo "$out" | grep -q 'rejected NOT_REQUESTER' || fail "bob was not refused as not the requester"
echo "$out" | grep -q 'reply OK' && fail "a correct replica sent bob alice's reply"
echo "  refused: NOT_REQUESTER"

step "2. alice replays her own checkout after logging out"
"$BIN/belfry" --user alice logout >/dev/null
out=$(replay alice "$CLUSTER/users/alice/alice.crt" "$CLUSTER/users/alice/alice.key")
echo "$out" | grep -v '^ts=' | sed 's/^/    /'
# A copy that reaches a replica that cached the reply is refused... only for others: alice
# is the requester, so she gets the reply cached from before her logout at most, which
# carries shares sealed to a key her logged-out client wiped; a copy ordered again is
# judged again and refused (SESSION_ENDED).
echo "  no plaintext"

step "3. carol, revoked, replays alice's checkout"
"$BIN/belfry-setup" revoke --dir "$CLUSTER" --user carol >/dev/null
[ -s "$CLUSTER/revocations/carol.req" ] || fail "belfry-setup revoke --user wrote no ordered revocation"
# The ordered revocation first, submitted by another user; no replica has the new CRL yet,
# so carol can still connect: the refusal must come from the ordered state.
"$BIN/belfry" --user bob revoke-user "$CLUSTER/revocations/carol.req" >/dev/null ||
  fail "the ordered revocation of carol was not accepted"
rc=0
printf 'carol after her revocation\n' > "$WORK/carol.txt"  # not the canary: it is checked in in the clear
"$BIN/belfry" --user carol checkin carols-doc "$WORK/carol.txt" > "$WORK/carol-checkin.out" 2>&1 || rc=$?
[ "$rc" = 3 ] && grep -q USER_REVOKED "$WORK/carol-checkin.out" ||
  { cat "$WORK/carol-checkin.out" >&2; fail "carol's checkin after her revocation was not refused as USER_REVOKED (exit $rc)"; }
REFUSED='belfry_requests_total{op="checkin",status="USER_REVOKED"}'
refused_everywhere() { local r; for r in 0 1 2; do [ "$(metric_at "$r" "$REFUSED")" -ge 1 ] || return 1; done; }
until_true refused_everywhere || fail "a correct replica did not refuse carol's checkin at execution"
echo "  ordered revocation: every correct replica refused carol's checkin (USER_REVOKED)"
RELOADS='belfry_credential_reloads_total{result="ok"}'
declare -a reloads_before
for r in 0 1 2; do reloads_before[$r]=$(metric_at "$r" "$RELOADS"); done
# Only the correct replicas load the new CRL: the faulty one goes on accepting carol.
for r in 0 1 2; do kill -HUP "$(cat "$CLUSTER/run/replica-$r.pid")"; done
all_reloaded() { local r; for r in 0 1 2; do [ "$(metric_at "$r" "$RELOADS")" -gt "${reloads_before[$r]}" ] || return 1; done; }
until_true all_reloaded || fail "a correct replica did not reload its credentials"
out=$(replay carol "$CLUSTER/users/carol/carol.crt" "$CLUSTER/users/carol/carol.key")
echo "$out" | grep -v '^ts=' | sed 's/^/    /'
echo "$out" | grep -q 'reply OK' && fail "a replica sent the revoked carol alice's reply"
echo "  no plaintext"

step "3b. carol's next request, relayed by the faulty replica alone"
declare -a refused_before
for r in 0 1 2; do refused_before[$r]=$(metric_at "$r" "$REFUSED"); done
relay_before=$(metric_at 3 'belfry_requests_admitted_total')
# The correct replicas refuse her connection (CRL); only the faulty one takes the request
# and proposes it, so the client hears at most one reply and gives up.
rc=0
"$BIN/belfry" --timeout 10 --user carol checkin carols-doc "$WORK/carol.txt" > "$WORK/carol-relayed.out" 2>&1 || rc=$?
[ "$rc" = 0 ] && { cat "$WORK/carol-relayed.out" >&2; fail "carol's relayed checkin was accepted"; }
relayed() { [ "$(metric_at 3 'belfry_requests_admitted_total')" -gt "$relay_before" ]; }
until_true --what "replica 3 admitting carol's request" relayed ||
  fail "the faulty replica did not take carol's request (it should relay it)"
refused_again() { local r; for r in 0 1 2; do [ "$(metric_at "$r" "$REFUSED")" -gt "${refused_before[$r]}" ] || return 1; done; }
until_true --what "USER_REVOKED for the relayed request at replicas 0, 1 and 2" refused_again ||
  fail "a correct replica did not refuse carol's relayed checkin at execution"
echo "  relayed by replica 3 alone, ordered, and refused at execution by replicas 0, 1, 2 (USER_REVOKED)"

step "4. mallory, from another CA, replays alice's checkout"
out=$(replay mallory "$OTHER/users/mallory/mallory.crt" "$OTHER/users/mallory/mallory.key")
echo "$out" | grep -v '^ts=' | sed 's/^/    /'
echo "$out" | grep -q 'reply OK' && fail "a replica sent a foreign-CA client alice's reply"
echo "  no plaintext"

step "canary"
# Everything the attackers received or wrote, and the leaked requests themselves.
if grep -rl --binary-files=text "$CANARY" "$WORK"/got-* "$WORK"/thief-*.out "$LEAKS" >&2; then
  fail "the canary appears in what the attackers received or wrote"
fi
[ -n "$(ls "$WORK"/got-*/plaintext 2>/dev/null)" ] && fail "an attacker wrote a plaintext"
echo "  the canary appears nowhere in $(find "$WORK"/got-* "$LEAKS" -type f | wc -l) received, leaked and written files"

step "one state at every correct replica"
same_epoch() {
  local e0; e0=$(metric_at 0 belfry_next_epoch)
  [ "$e0" -gt 0 ] && [ "$(metric_at 1 belfry_next_epoch)" = "$e0" ] && [ "$(metric_at 2 belfry_next_epoch)" = "$e0" ]
}
until_true --what "replicas 0, 1 and 2 at one epoch" same_epoch || fail "the correct replicas did not reach one epoch"
kill "$BYZ_PID" 2>/dev/null || true
wait "$BYZ_PID" 2>/dev/null || true
BYZ_PID=""
"$BIN/belfry-cluster" down --dir "$CLUSTER" >/dev/null
for r in 0 1 2; do
  "$BIN/belfry-replica" --state-digest --data "$CLUSTER/data/replica-$r" > "$WORK/digest-$r" ||
    fail "replica $r's store did not open"
  echo "  replica $r: $(cut -c1-60 "$WORK/digest-$r")..."
done
cmp -s "$WORK/digest-0" "$WORK/digest-1" && cmp -s "$WORK/digest-0" "$WORK/digest-2" ||
  fail "the correct replicas' states differ after the relayed request: $(cat "$WORK"/digest-[012])"
echo "  replicas 0, 1, 2: one epoch, log head and state digest"
echo "confidential e2e: OK"
