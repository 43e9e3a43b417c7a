#!/usr/bin/env bash
# Runs the standard workloads (tools/bench/workloads.sh) against a fresh 3-member etcd
# cluster on loopback, with etcd-load, and prints their summary.
#
#   tools/bench/etcd-baseline.sh [WORKLOAD...]          (default: W1 W2 W3 W4 W5)
#
# Environment: BIN (folder of etcd-load, default build/bin), BENCH_OUT (results folder,
# default build/bench/etcd-<time>), BENCH_SECONDS, BENCH_OPS, BENCH_SEED, BENCH_TMPDIR
# (where the members keep their data, default /var/tmp: a disk, so fsync costs what it
# costs), ETCD_TARGET (leader: every client on the leader, the fastest placement, as in
# the reference figures; all: clients spread over the members). BENCH_TSV, when set, is
# the summary file to append to (run.sh uses it to put both systems in one table).
#
# The members run with etcd's defaults (fsync on). Their PIDs are the only processes this
# script stops, on any exit, and their temporary folder is removed.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=workloads.sh
. "$HERE/workloads.sh"
BIN=${BIN:-build/bin}
ETCD=${ETCD:-etcd}
ETCDCTL=${ETCDCTL:-etcdctl}
ETCD_TARGET=${ETCD_TARGET:-leader}
OUT=${BENCH_OUT:-build/bench/etcd-$(date +%Y%m%d-%H%M%S)}
TSV=${BENCH_TSV:-$OUT/summary.tsv}
WORKLOADS=("$@")
if [ ${#WORKLOADS[@]} -eq 0 ]; then WORKLOADS=(W1 W2 W3 W4 W5); fi
for w in "${WORKLOADS[@]}"; do workload_field "$w" 1 >/dev/null; done

command -v "$ETCD" >/dev/null || { echo "etcd-baseline: '$ETCD' not found (apt package etcd-server)" >&2; exit 1; }
command -v "$ETCDCTL" >/dev/null || { echo "etcd-baseline: '$ETCDCTL' not found (apt package etcd-client)" >&2; exit 1; }
[ -x "$BIN/etcd-load" ] || { echo "etcd-baseline: $BIN/etcd-load not built" >&2; exit 1; }
mkdir -p "$OUT"

TMP=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/etcd-baseline.XXXXXX")
PIDS=()
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 100); do
    local alive=0
    for pid in "${PIDS[@]}"; do if kill -0 "$pid" 2>/dev/null; then alive=1; fi; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mapfile -t PORTS < <("$BIN/etcd-load" --free-ports 6)
[ ${#PORTS[@]} -eq 6 ] || { echo "etcd-baseline: could not find free loopback ports" >&2; exit 1; }
CLIENT=() PEER=() CLUSTER=""
for i in 0 1 2; do
  CLIENT[i]=${PORTS[$((2 * i))]}
  PEER[i]=${PORTS[$((2 * i + 1))]}
  CLUSTER+="${CLUSTER:+,}e$i=http://127.0.0.1:${PEER[i]}"
done
for i in 0 1 2; do
  "$ETCD" --name "e$i" --data-dir "$TMP/e$i" \
    --listen-client-urls "http://127.0.0.1:${CLIENT[i]}" --advertise-client-urls "http://127.0.0.1:${CLIENT[i]}" \
    --listen-peer-urls "http://127.0.0.1:${PEER[i]}" --initial-advertise-peer-urls "http://127.0.0.1:${PEER[i]}" \
    --initial-cluster "$CLUSTER" --initial-cluster-state new --initial-cluster-token belfry-baseline \
    --log-level error >"$TMP/e$i.log" 2>&1 &
  PIDS+=($!)
done
MEMBERS="127.0.0.1:${CLIENT[0]},127.0.0.1:${CLIENT[1]},127.0.0.1:${CLIENT[2]}"
PIDLIST=$(IFS=,; echo "${PIDS[*]}")

# Ready when every member reports healthy (a leader exists and it serves reads).
ready=0
for _ in $(seq 1 60); do
  if ETCDCTL_API=3 "$ETCDCTL" --endpoints="$MEMBERS" --command-timeout=2s endpoint health >/dev/null 2>&1; then
    ready=1; break
  fi
  sleep 0.5
done
if [ "$ready" != 1 ]; then
  echo "etcd-baseline: the etcd members did not become healthy; their logs:" >&2
  tail -n 20 "$TMP"/e*.log >&2
  exit 1
fi
# `endpoint status` simple format: ENDPOINT, ID, VERSION, DB SIZE, IS LEADER, ...
LEADER=$(ETCDCTL_API=3 "$ETCDCTL" --endpoints="$MEMBERS" endpoint status -w simple |
  awk -F', ' '$5 == "true" { print $1 }')
if [ -z "$LEADER" ]; then echo "etcd-baseline: no leader found" >&2; exit 1; fi
if [ "$ETCD_TARGET" = all ]; then TARGET=$MEMBERS; else TARGET=$LEADER; fi
echo "etcd-baseline: 3 members ($MEMBERS, pids $PIDLIST), leader $LEADER, clients on $TARGET" >&2

rc=0
for w in "${WORKLOADS[@]}"; do
  clients=$(workload_field "$w" 2); mix=$(workload_field "$w" 4); size=$(workload_field "$w" 5)
  echo "etcd-baseline: $w: $clients clients, $mix, $size" >&2
  if ! "$BIN/etcd-load" --endpoints "$TARGET" --members "$MEMBERS" --pids "$PIDLIST" \
      --clients "$clients" --mix "$mix" --size "$size" --ops "$BENCH_OPS" \
      --seconds "$BENCH_SECONDS" --warmup-ops "$clients" --seed "$BENCH_SEED" \
      --label "$w" --json "$OUT/etcd-$w.json" --tsv "$TSV"; then
    echo "etcd-baseline: $w failed" >&2
    rc=1
  fi
done
if [ -z "${BENCH_TSV:-}" ] && [ -s "$TSV" ]; then
  echo
  print_summary "$TSV"
  echo "results: $OUT"
fi
exit "$rc"
