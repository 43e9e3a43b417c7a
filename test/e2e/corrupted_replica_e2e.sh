#!/usr/bin/env bash
# A document corrupted on one replica's disk is still returned correctly: the corrupted
# replica's reply cannot match the 2f+1 correct ones, and integrity documents keep
# verifying. Usage: corrupted_replica_e2e.sh BIN TAMPER_DOC BASE_PORT
set -euo pipefail
BIN=$1
TAMPER=$2
BASE_PORT=$3
WORK=$(mktemp -d /tmp/belfry-e2e.XXXXXX)
export BELFRY_HOME="$WORK/home" BELFRY_CLUSTER="$WORK/cluster/cluster.conf"
cleanup() { "$BIN/belfry-cluster" down --dir "$WORK/cluster" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" --replicas 4 --out "$WORK/cluster" --users alice --base-port "$BASE_PORT" >/dev/null
"$BIN/belfry-cluster" up --dir "$WORK/cluster" >/dev/null
"$BIN/belfry" login alice --key "$WORK/cluster/users/alice/alice.key" >/dev/null
printf 'the true minutes\n' > "$WORK/doc"
"$BIN/belfry" checkin minutes "$WORK/doc" --integrity >/dev/null

# Replica 2's disk flips a bit of the stored document.
"$BIN/belfry-cluster" down --dir "$WORK/cluster" --replicas 2 >/dev/null
"$TAMPER" "$WORK/cluster/data/replica-2" minutes
"$BIN/belfry-cluster" up --dir "$WORK/cluster" --replicas 2 >/dev/null

for i in 1 2 3; do
  "$BIN/belfry" checkout minutes --out "$WORK/got" --integrity-cert "$WORK/cert" >/dev/null
  cmp -s "$WORK/doc" "$WORK/got" || { echo "FAIL: checkout returned corrupted data" >&2; exit 1; }
  "$BIN/belfry" verify "$WORK/got" "$WORK/cert" >/dev/null
done
echo "corrupted_replica_e2e: correct data returned and verified despite replica 2's disk"
