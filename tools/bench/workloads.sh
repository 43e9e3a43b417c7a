# shellcheck shell=bash
# tools/bench/workloads.sh — the standard workloads, sourced by run.sh and
# etcd-baseline.sh so both systems get the same concurrency, mix and value size.
#
# One line per workload: NAME|CLIENTS|BELFRY MIX|ETCD MIX|SIZE|BELFRY FLAGS
# etcd has no counterpart of a confidential document: W4 on etcd stores the same number of
# bytes in the clear.
BENCH_WORKLOADS_TABLE=(
  "W1|64|checkin=100|put=100|1KiB|"
  "W2|64|checkout=100|get=100|1KiB|"
  "W3|64|checkin=70,checkout=30|put=70,get=30|16KiB|"
  "W4|16|checkin=50,checkout=50|put=50,get=50|64KiB|--confidential"
  "W5|1|checkin=50,checkout=50|put=50,get=50|1KiB|"
)

# workload_field NAME INDEX: prints field INDEX (1-based) of workload NAME; fails when
# there is no such workload.
workload_field() {
  local line
  for line in "${BENCH_WORKLOADS_TABLE[@]}"; do
    if [ "${line%%|*}" = "$1" ]; then
      printf '%s\n' "$line" | cut -d'|' -f"$2"
      return 0
    fi
  done
  echo "no workload named '$1' (known: W1..W5)" >&2
  return 1
}

# Bounds of every run: whichever comes first ends it. The defaults keep one run under
# 20 s on a shared machine.
BENCH_SECONDS=${BENCH_SECONDS:-20}
BENCH_OPS=${BENCH_OPS:-100000}
BENCH_SEED=${BENCH_SEED:-1}

# print_summary TSV: the summary table of the rows collected in TSV.
print_summary() {
  awk -F'\t' 'BEGIN { OFS = "\t" }
    NR == 1 { print "system", "workload", "ops", "errors", "ops/s", "p50 ms", "p90 ms", "p99 ms",
                    "max ms", "epochs/s", "batch", "wire B/op", "srv CPU ms/op", "cli CPU ms/op",
                    "peak RSS MiB", "other cores"; next }
    { print $1, $2, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $19 }' "$1" |
    column -t -s "$(printf '\t')"
}
