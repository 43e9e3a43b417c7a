#!/usr/bin/env bash
# Where a replica's CPU time goes under a standard workload: starts a fresh local N=4
# cluster, records one replica with `perf record` (software cpu-clock event, so it works in
# VMs without hardware counters) while belfry-bench runs the workload, and writes the
# reports next to the benchmark results.
#
#   tools/bench/profile.sh [WORKLOAD]                  (default W1)
#
# Environment: BIN (default build/bin), BENCH_OUT (default build/bench/profile-<time>),
# BENCH_SECONDS (default 20), BENCH_OPS, BENCH_BASE_PORT (default: a free range), BENCH_TMPDIR,
# PROFILE_REPLICA (default 0), PROFILE_CALL_GRAPH (dwarf, the default: RelWithDebInfo code
# has no frame pointers; fp; or none), PROFILE_FREQ (samples/s, default 499).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=workloads.sh
. "$HERE/workloads.sh"
W=${1:-W1}
BIN=${BIN:-build/bin}
OUT=${BENCH_OUT:-build/bench/profile-$(date +%Y%m%d-%H%M%S)}
REPLICA=${PROFILE_REPLICA:-0}
CALL_GRAPH=${PROFILE_CALL_GRAPH:-dwarf}
FREQ=${PROFILE_FREQ:-499}
command -v perf >/dev/null || { echo "profile.sh: perf not found (apt package linux-perf)" >&2; exit 1; }
clients=$(workload_field "$W" 2); mix=$(workload_field "$W" 3)
size=$(workload_field "$W" 5); flags=$(workload_field "$W" 6)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

TMP=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/belfry-profile.XXXXXX")
CLUSTER=$TMP/n4
PERF_PID=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  if [ -n "$PERF_PID" ]; then kill -INT "$PERF_PID" 2>/dev/null || true; wait "$PERF_PID" 2>/dev/null || true; fi
  "$BIN/belfry-cluster" down --dir "$CLUSTER" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BASE_PORT=${BENCH_BASE_PORT:-$("$BIN/belfry-bench" --free-port-range 12)}
"$BIN/belfry-setup" init --replicas 4 --out "$CLUSTER" --base-port "$BASE_PORT" >/dev/null
"$BIN/belfry-cluster" up --dir "$CLUSTER" >&2
PID=$(cat "$CLUSTER/run/replica-$REPLICA.pid")
case "$CALL_GRAPH" in
  dwarf) CG=(--call-graph "dwarf,16384") ;;
  fp) CG=(-g) ;;
  none) CG=() ;;
  *) echo "profile.sh: PROFILE_CALL_GRAPH is dwarf, fp or none" >&2; exit 2 ;;
esac
perf record -e cpu-clock -F "$FREQ" "${CG[@]}" -p "$PID" -o "$OUT/perf.data" 2>"$OUT/perf-record.log" &
PERF_PID=$!
# shellcheck disable=SC2086  # flags is a list of words
"$BIN/belfry-bench" --dir "$CLUSTER" --clients "$clients" --mix "$mix" --size "$size" $flags \
  --ops "${BENCH_OPS:-100000}" --seconds "${BENCH_SECONDS:-20}" --warmup-ops "$clients" \
  --seed "${BENCH_SEED:-1}" --label "$W-profiled" --json "$OUT/belfry-$W-profiled.json"
kill -INT "$PERF_PID"
wait "$PERF_PID" || true
PERF_PID=""

# Self time per function, and time including callees, for replica $REPLICA.
perf report -i "$OUT/perf.data" --stdio --no-children --sort symbol --percent-limit 0.5 \
  -g none >"$OUT/perf-self.txt" 2>/dev/null
if [ "$CALL_GRAPH" != none ]; then
  perf report -i "$OUT/perf.data" --stdio --children --sort symbol --percent-limit 2 \
    -g none >"$OUT/perf-children.txt" 2>/dev/null
fi
perf report -i "$OUT/perf.data" --stdio --no-children --sort dso --percent-limit 0.5 \
  -g none >"$OUT/perf-dso.txt" 2>/dev/null
echo "profile of replica-$REPLICA (pid $PID) under $W: $OUT/perf-self.txt, perf-children.txt, perf-dso.txt"
grep -v '^#' "$OUT/perf-self.txt" | grep -v '^$' | head -25
