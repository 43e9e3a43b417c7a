#!/usr/bin/env bash
# End-to-end 3S rules through real processes: a 4-replica cluster (mutual TLS, RocksDB)
# driven by the belfry CLI, asserting exact exit codes. Usage: rules_e2e.sh BIN BASE_PORT
set -euo pipefail
BIN=$1
BASE_PORT=$2
WORK=$(mktemp -d /tmp/belfry-e2e.XXXXXX)
export BELFRY_HOME="$WORK/home" BELFRY_CLUSTER="$WORK/cluster/cluster.conf"
cleanup() { "$BIN/belfry-cluster" down --dir "$WORK/cluster" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

expect() {  # expect CODE command...: the command must exit with CODE
  local want=$1; shift
  set +e; "$@" >"$WORK/out" 2>"$WORK/err"; local rc=$?; set -e
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL: '$*' exited $rc, expected $want" >&2; cat "$WORK/err" >&2; exit 1
  fi
}
as() { local who=$1; shift; "$BIN/belfry" --user "$who" "$@"; }

"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" --replicas 4 --out "$WORK/cluster" --users alice,bob,carol --base-port "$BASE_PORT" >/dev/null
"$BIN/belfry-cluster" up --dir "$WORK/cluster" >/dev/null
U="$WORK/cluster/users"
expect 0 "$BIN/belfry" login alice --key "$U/alice/alice.key"
expect 0 "$BIN/belfry" login bob --key "$U/bob/bob.key"
expect 3 "$BIN/belfry" login carol --key "$U/alice/alice.key"   # another user's key
echo "v1" > "$WORK/doc"

# Ownership and rights.
expect 0 as alice checkin doc "$WORK/doc"
expect 4 as bob checkout doc
expect 4 as bob checkin doc "$WORK/doc"
expect 4 as bob grant doc bob checkout 60       # only the owner grants
expect 4 as bob delete doc                      # only the owner deletes
expect 5 as bob checkout nosuchdoc

# Latest grant wins, in both directions (ALL then personal, personal then ALL).
expect 0 as alice grant doc ALL checkout 60
expect 0 as bob checkout doc
expect 0 as alice grant doc bob checkout 0      # a later personal grant (revocation) wins
expect 4 as bob checkout doc
expect 0 as alice grant doc ALL both 60         # a later ALL grant wins again
expect 0 as bob checkout doc
echo "v2" > "$WORK/doc2"
expect 0 as bob checkin doc "$WORK/doc2"        # an authorized non-owner's checkin...
expect 0 as alice checkout doc --out "$WORK/got"
grep -qx v2 "$WORK/got"
expect 4 as bob delete doc                      # ...keeps the owner

# Expiry in consensus time.
expect 0 as alice grant doc bob checkout 1
sleep 2
expect 0 as alice checkin tick "$WORK/doc"      # moves consensus time forward
expect 4 as bob checkout doc

# Bad input is refused before it reaches the cluster.
expect 2 as alice checkin "a/b" "$WORK/doc"
expect 2 as alice checkin ".." "$WORK/doc"
expect 2 as alice grant doc bob sideways 10

# Confidential documents: no replica stores the plaintext.
echo "canary-7f3a9c1e-plaintext" > "$WORK/secret"
expect 0 as alice checkin secret "$WORK/secret" --confidential
expect 0 as alice checkout secret --out "$WORK/secret.out"
cmp -s "$WORK/secret" "$WORK/secret.out"
if grep -rqa "canary-7f3a9c1e" "$WORK/cluster/data"; then
  echo "FAIL: plaintext of a confidential document found in a replica's data" >&2; exit 1
fi

# Integrity documents verify offline; a modified file does not.
expect 0 as alice checkin signed "$WORK/doc" --integrity
expect 0 as alice checkout signed --out "$WORK/signed.out" --integrity-cert "$WORK/signed.cert"
expect 0 "$BIN/belfry" verify "$WORK/signed.out" "$WORK/signed.cert"
# The stock tool agrees: a detached CMS signature by the service key, checked with ca.crt
# and service.crt alone, and no cluster.conf.
stock_verify() {
  openssl cms -verify -binary -inform DER -in "$WORK/signed.cert" -content "$WORK/signed.out" \
    -CAfile "$WORK/cluster/ca.crt" -certfile "$WORK/cluster/service.crt" -purpose any -out /dev/null
}
expect 0 stock_verify
expect 0 env -u BELFRY_CLUSTER "$BIN/belfry" verify "$WORK/signed.out" "$WORK/signed.cert" \
  --ca "$WORK/cluster/ca.crt" --service-cert "$WORK/cluster/service.crt"
echo tampered >> "$WORK/signed.out"
expect 6 "$BIN/belfry" verify "$WORK/signed.out" "$WORK/signed.cert"
expect 4 stock_verify

# Delete, then every later checkout is "no such document".
expect 0 as alice delete secret
expect 5 as alice checkout secret

# Logout ends the session.
expect 0 as bob logout
expect 3 as bob checkout doc
echo "rules_e2e: all checks passed"
