# test/e2e/wait_lib.sh — waiting for events in real-process tests; sourced, never run.
#
# A test on a slow, busy machine must wait for what it expects to happen, never for a
# duration: each helper polls for an event and only gives up after a bound far beyond
# any machine's delay, which turns a hang into a failure without making the outcome
# depend on speed.

# until_true [--what DESCRIPTION] [--seconds S] COMMAND...: runs COMMAND every 0.1 s until it
# succeeds; fails after S seconds (default 60), saying what it waited for. Waits for events
# that are themselves delayed on purpose (an alert's `for:`) add that delay to S.
until_true() {
  local what="" seconds=60
  if [ "${1:-}" = "--what" ]; then what=$2; shift 2; fi
  if [ "${1:-}" = "--seconds" ]; then seconds=$2; shift 2; fi
  for _ in $(seq 1 $((seconds * 10))); do "$@" && return 0; sleep 0.1; done
  [ -n "$what" ] && echo "  gave up waiting for: $what" >&2
  return 1
}

# metric_at REPLICA SERIES: that replica's value of a Prometheus series (0 when absent), on
# the metrics port belfry-setup lays out (BASE_PORT + 3 * REPLICA + 2).
metric_at() {
  { curl -fsS --max-time 5 "http://127.0.0.1:$((BASE_PORT + 3 * $1 + 2))/metrics" || true; } |
    awk -v s="$2" '$1 == s { print $2; found=1 } END { if (!found) print 0 }'
}
