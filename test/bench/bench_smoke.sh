#!/usr/bin/env bash
# belfry-bench end to end: a 4-replica cluster, 2 clients, 50 operations of every kind; the
# JSON report must carry every documented field, completed operations and no errors.
# Usage: bench_smoke.sh BIN [BASE_PORT]   (without one, a free range is chosen: the suite
# may run in several build folders at once)
set -euo pipefail
BIN=$1
BASE_PORT=${2:-$("$BIN/belfry-bench" --free-port-range 12)}
WORK=$(mktemp -d /tmp/belfry-bench-smoke.XXXXXX)
cleanup() { "$BIN/belfry-cluster" down --dir "$WORK/cluster" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" --replicas 4 --out "$WORK/cluster" --base-port "$BASE_PORT" >/dev/null
"$BIN/belfry-cluster" up --dir "$WORK/cluster" >/dev/null
"$BIN/belfry-bench" --dir "$WORK/cluster" --clients 2 --ops 50 --seconds 40 \
  --mix checkin=40,checkout=40,grant=10,delete=10 --size 2KiB --integrity --warmup-ops 4 \
  --json "$WORK/out.json" --tsv "$WORK/out.tsv" --label smoke >"$WORK/table" 2>"$WORK/err" || {
  echo "FAIL: belfry-bench exited $?" >&2; cat "$WORK/err" "$WORK/table" >&2; exit 1; }
J="$WORK/out.json"

fail() { echo "FAIL: $*" >&2; cat "$J" >&2; exit 1; }
has() { grep -Eq "$1" "$J" || fail "the JSON lacks /$1/"; }
num='[0-9.e+-]+'
# The users were issued by belfry-bench itself.
[ -f "$WORK/cluster/users/bench-001/bench-001.key" ] || fail "bench users not issued"
has "\"ops_per_s\": $num"
has "\"latency_ms\": \\{\"p50\": $num, \"p90\": $num, \"p99\": $num, \"max\": $num"
for kind in checkin checkout grant delete; do
  has "\"$kind\": \\{\"count\": [0-9]+, \"errors\": 0, \"ops_per_s\": $num, \"latency_ms\": \\{\"p50\""
done
for field in epochs_per_s mean_batch_requests wire_bytes_per_op server_cpu_s_per_op peak_rss_bytes \
             client_cpu_s_per_op; do
  has "\"$field\": "
done
has '"parameters": \{"dir": ".*", "replicas": 4, "f": 1, "clients": 2, "mix": "checkin=40,checkout=40,grant=10,delete=10", "size_bytes": 2048, "confidential": false, "integrity": true, "ops": 50'
has '"errors": 0,'
ops=$(sed -n 's/^  "ops": \([0-9]*\),$/\1/p' "$J")
if [ -z "$ops" ] || [ "$ops" -ne 50 ]; then fail "expected 50 operations, got '$ops'"; fi
# The replicas are local, so their CPU time and peak RSS come from /proc.
has '"server_cpu_s_per_op": [0-9]'
has '"peak_rss_bytes": \[[0-9]+, [0-9]+, [0-9]+, [0-9]+\]'
grep -q '^all  *50  *0 ' "$WORK/table" || { cat "$WORK/table" >&2; fail "the table's 'all' row"; }
[ "$(wc -l <"$WORK/out.tsv")" -eq 2 ] || fail "the TSV should hold a header and one row"
echo "bench_smoke: ok ($ops operations)"
