#!/usr/bin/env bash
# The standard benchmark runs (tools/bench/README.md).
#
#   tools/bench/run.sh bench      W1..W5 on a fresh N=4 cluster, then W1 on fresh N=7 and
#                                 N=10 clusters; one summary table         (make bench)
#   tools/bench/run.sh compare    W1, W2, W5 on N=4 and the same on a 3-member etcd
#                                 cluster; one table with Belfry/etcd ratios (make bench-compare)
#
# Environment: BIN (programs, default build/bin), BENCH_OUT (results, default
# build/bench/<mode>-<time>), BENCH_SECONDS (default 20), BENCH_OPS (default 100000),
# BENCH_SEED, BENCH_WORKLOADS (default "W1 W2 W3 W4 W5"; compare: "W1 W2 W5"),
# BENCH_SCALE_N (default "7 10"; empty to skip), BENCH_BASE_PORT (a cluster of N uses 3N
# ports from there; default: a free range chosen for each cluster), BENCH_TMPDIR (cluster folders, default /var/tmp: a disk,
# with fsync on as always), BENCH_REVISION (what BIN was built from, when that is not this
# checkout; recorded in revision.txt).
#
# Every cluster is new, lives in a temporary folder, and is stopped (belfry-cluster down)
# and removed on any exit. Exit status 1 when any run failed; the summary still shows the
# runs that completed.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=workloads.sh
. "$HERE/workloads.sh"
MODE=${1:-bench}
BIN=${BIN:-build/bin}
OUT=${BENCH_OUT:-build/bench/$MODE-$(date +%Y%m%d-%H%M%S)}
case "$MODE" in
  bench) WORKLOADS=${BENCH_WORKLOADS:-W1 W2 W3 W4 W5}; SCALE_N=${BENCH_SCALE_N-7 10} ;;
  compare) WORKLOADS=${BENCH_WORKLOADS:-W1 W2 W5}; SCALE_N="" ;;
  *) echo "usage: run.sh bench|compare" >&2; exit 2 ;;
esac
for w in $WORKLOADS; do workload_field "$w" 1 >/dev/null; done
for p in belfry-setup belfry-cluster belfry-replica belfry-bench; do
  [ -x "$BIN/$p" ] || { echo "run.sh: $BIN/$p not built" >&2; exit 1; }
done
mkdir -p "$OUT"
TSV=$OUT/summary.tsv
rm -f "$TSV"

# What was measured: the source revision and when the replica binary was built (the two
# differ when the tree changed after the build).
{
  if [ -n "${BENCH_REVISION:-}" ]; then
    echo "revision: $BENCH_REVISION"
  else
    echo "revision: $(git -C "$HERE" rev-parse HEAD 2>/dev/null || echo unknown)" \
      "($(git -C "$HERE" status --porcelain --untracked-files=no 2>/dev/null | wc -l) modified files)"
  fi
  echo "belfry-replica built: $(date -r "$BIN/belfry-replica" '+%F %T %z')"
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
    "$(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
  echo "started: $(date '+%F %T %z')"
} | tee "$OUT/revision.txt" >&2

TMP=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/belfry-bench.XXXXXX")
CLUSTER=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  if [ -n "$CLUSTER" ]; then "$BIN/belfry-cluster" down --dir "$CLUSTER" >/dev/null 2>&1 || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rc=0
start_cluster() {  # start_cluster N: a fresh cluster of N replicas in $CLUSTER
  local base=${BENCH_BASE_PORT:-}
  if [ -z "$base" ]; then base=$("$BIN/belfry-bench" --free-port-range $((3 * $1))); fi
  CLUSTER=$TMP/n$1
  "$BIN/belfry-setup" init --replicas "$1" --out "$CLUSTER" --base-port "$base" >/dev/null
  "$BIN/belfry-cluster" up --dir "$CLUSTER" >&2
}
stop_cluster() {
  "$BIN/belfry-cluster" down --dir "$CLUSTER" >/dev/null
  # Keep the replica logs with the results; the rest holds keys and data.
  mkdir -p "$OUT/logs-$(basename "$CLUSTER")"
  cp "$CLUSTER"/logs/* "$OUT/logs-$(basename "$CLUSTER")/" 2>/dev/null || true
  rm -rf "$CLUSTER"
  CLUSTER=""
}
run_belfry() {  # run_belfry WORKLOAD LABEL
  local clients mix size flags
  clients=$(workload_field "$1" 2); mix=$(workload_field "$1" 3)
  size=$(workload_field "$1" 5); flags=$(workload_field "$1" 6)
  echo "run.sh: belfry $2: $clients clients, $mix, $size $flags" >&2
  # shellcheck disable=SC2086  # flags is a list of words
  if ! "$BIN/belfry-bench" --dir "$CLUSTER" --clients "$clients" --mix "$mix" --size "$size" \
      $flags --ops "$BENCH_OPS" --seconds "$BENCH_SECONDS" --warmup-ops "$clients" \
      --seed "$BENCH_SEED" --label "$2" --json "$OUT/belfry-$2.json" --tsv "$TSV"; then
    echo "run.sh: belfry $2 failed" >&2
    rc=1
  fi
}

start_cluster 4
for w in $WORKLOADS; do run_belfry "$w" "$w"; done
stop_cluster
for n in $SCALE_N; do
  start_cluster "$n"
  run_belfry W1 "W1-N$n"
  stop_cluster
done

if [ "$MODE" = compare ]; then
  # shellcheck disable=SC2086  # WORKLOADS is a list of names
  if ! BIN=$BIN BENCH_OUT=$OUT BENCH_TSV=$TSV "$HERE/etcd-baseline.sh" $WORKLOADS; then
    rc=1
  fi
fi

echo
if [ -s "$TSV" ]; then
  print_summary "$TSV"
else
  echo "run.sh: no run completed" >&2
  exit 1
fi
if [ "$MODE" = compare ]; then
  echo
  echo "Belfry/etcd (throughput: above 1 = Belfry faster; latency: above 1 = Belfry slower)"
  awk -F'\t' 'BEGIN { OFS = "\t"; print "workload", "ops/s ratio", "p50 ratio", "p99 ratio" }
    NR > 1 { ops[$1, $2] = $6; p50[$1, $2] = $7; p99[$1, $2] = $9; if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
    function ratio(a, b) { return (b > 0 && a != "") ? sprintf("%.3f", a / b) : "n/a" }
    END { for (i = 1; i <= n; i++) { w = order[i]
            if ((("belfry", w) in ops) && (("etcd", w) in ops))
              print w, ratio(ops["belfry", w], ops["etcd", w]), ratio(p50["belfry", w], p50["etcd", w]),
                    ratio(p99["belfry", w], p99["etcd", w]) } }' "$TSV" |
    column -t -s "$(printf '\t')"
fi
echo "results: $OUT"
exit "$rc"
