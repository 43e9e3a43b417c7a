#!/usr/bin/env bash
# What an operator relies on, checked on a real 4-replica cluster:
#  - every replica's /metrics page passes `promtool check metrics`, a real Prometheus
#    server scrapes all four, and the series move when requests are served;
#  - every series deploy/grafana/belfry.json and deploy/prometheus/alerts.yml read is on the
#    real pages; the certificate-expiry gauge is the certificate's notAfter, also after a
#    renewal reloaded by SIGHUP;
#  - that Prometheus, with deploy/prometheus/alerts.yml loaded, fires BelfryReplicaDown (and
#    no BelfryQuorumAtRisk) for one replica stopped, BelfryQuorumAtRisk for two, and
#    resolves it when they are back;
#  - /livez, /readyz and `belfry-replica --health-check` answer, and fail for a stopped
#    replica;
#  - `belfry status` prints the table and exits 7 once fewer than 2f+1 replicas are healthy;
#  - JSON logs are one valid object per line; SIGHUP reopens a rotated log file;
#  - no log line holds a document's contents, a session secret or any key material.
# Usage: ops_e2e.sh BIN BASE_PORT
set -euo pipefail
BIN=$1
BASE_PORT=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/test/e2e/wait_lib.sh"
PROM_PORT=$((BASE_PORT + 90))
WORK=$(mktemp -d /tmp/belfry-ops.XXXXXX)
CLUSTER="$WORK/cluster"
export BELFRY_HOME="$WORK/home" BELFRY_CLUSTER="$CLUSTER/cluster.conf"
PROM_PID=""
cleanup() {
  [ -n "${KEEP:-}" ] && return 0
  if [ -n "$PROM_PID" ]; then kill "$PROM_PID" 2>/dev/null || true; wait "$PROM_PID" 2>/dev/null || true; fi
  "$BIN/belfry-cluster" down --dir "$CLUSTER" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
metrics_port() { echo $((BASE_PORT + 3 * $1 + 2)); }
scrape() { curl -fsS --max-time 5 "http://127.0.0.1:$(metrics_port "$1")/metrics"; }
# The value of one exact series line (name with labels) on replica $1, or 0.
value_of() { scrape "$1" | awk -v s="$2" '$1 == s { print $2; found=1 } END { if (!found) print 0 }'; }
# Pages are snapshots refreshed a few times a second: wait up to 5 s for series $2 on
# replica $1 to reach at least $3.
# not_after_of K: replica K's certificate file's notAfter, in Unix seconds.
not_after_of() {
  date -d "$(openssl x509 -noout -enddate -in "$CLUSTER/replicas/replica-$1/tls.crt" |
    sed 's/^notAfter=//')" +%s
}
wait_value() {
  for _ in $(seq 1 50); do
    [ "$(value_of "$1" "$2")" -ge "$3" ] && return 0
    sleep 0.1
  done
  return 1
}

"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" --replicas 4 --out "$CLUSTER" --users alice --base-port "$BASE_PORT" >/dev/null
"$BIN/belfry-cluster" up --dir "$CLUSTER" \
  --replica-args "--log-format json --log-level debug" >/dev/null

# ---- metrics: format, and a real Prometheus scraping every replica ----
for r in 0 1 2 3; do
  scrape "$r" > "$WORK/metrics-$r.txt"
  promtool check metrics < "$WORK/metrics-$r.txt" || fail "replica $r: promtool rejects /metrics"
  for series in belfry_epochs_committed_total belfry_epoch_latency_seconds_bucket \
      belfry_requests_executed_total belfry_peer_bytes_sent_total belfry_peer_bytes_received_total \
      belfry_peer_reconnects_total belfry_peer_faults_total belfry_mempool_requests \
      belfry_store_bytes process_cpu_seconds_total process_resident_memory_bytes belfry_ready; do
    grep -q "^$series" "$WORK/metrics-$r.txt" || fail "replica $r: no $series series"
  done
  # The gauge is the notAfter of the certificate the replica presents.
  not_after=$(not_after_of "$r")
  [ "$(value_of "$r" belfry_tls_certificate_expiry_timestamp_seconds)" = "$not_after" ] ||
    fail "replica $r: belfry_tls_certificate_expiry_timestamp_seconds is not its notAfter $not_after"
done
/usr/bin/python3 "$SRC/test/deploy/ops_checks.py" --dashboard "$SRC/deploy/grafana/belfry.json" \
  --rules "$SRC/deploy/prometheus/alerts.yml" --metrics "$WORK"/metrics-*.txt ||
  fail "the dashboard or the alert rules read a series no replica exports"

cat > "$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $SRC/deploy/prometheus/alerts.yml
scrape_configs:
  - job_name: belfry
    static_configs:
      - targets: ['127.0.0.1:$(metrics_port 0)', '127.0.0.1:$(metrics_port 1)',
                  '127.0.0.1:$(metrics_port 2)', '127.0.0.1:$(metrics_port 3)']
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
  --web.listen-address="127.0.0.1:$PROM_PORT" > "$WORK/prometheus.log" 2>&1 &
PROM_PID=$!

before_epochs=$(value_of 0 belfry_epochs_committed_total)
before_bytes=$(value_of 0 'belfry_peer_bytes_sent_total{peer="1"}')

# ---- a short 3S session whose contents and secrets must never reach a log ----
CANARY="canary-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$CANARY" > "$WORK/doc"
"$BIN/belfry" login alice --key "$CLUSTER/users/alice/alice.key" >/dev/null
for i in 1 2 3; do "$BIN/belfry" checkin "plain-$i" "$WORK/doc" >/dev/null; done
"$BIN/belfry" checkin secret "$WORK/doc" --confidential >/dev/null
"$BIN/belfry" checkout secret --out "$WORK/got" >/dev/null
cmp -s "$WORK/doc" "$WORK/got" || fail "checkout returned other data"
"$BIN/belfry" checkout no-such-doc >/dev/null 2>&1 && fail "checkout of a missing document succeeded"

wait_value 0 belfry_epochs_committed_total $((before_epochs + 1)) ||
  fail "belfry_epochs_committed_total did not move from $before_epochs"
wait_value 0 'belfry_peer_bytes_sent_total{peer="1"}' $((before_bytes + 1)) ||
  fail "peer bytes did not move from $before_bytes"
for r in 0 1 2 3; do
  wait_value "$r" 'belfry_requests_total{op="checkin",status="OK"}' 4 ||
    fail "replica $r: belfry_requests_total{op=\"checkin\",status=\"OK\"} did not reach 4"
  wait_value "$r" 'belfry_requests_total{op="checkout",status="NO_SUCH_DOCUMENT"}' 1 ||
    fail "replica $r: the refused checkout is not counted"
done
after_epochs=$(value_of 0 belfry_epochs_committed_total)

# Prometheus itself: every target up, and the epoch counter it stored has moved.
query() {
  curl -fsS --max-time 5 --get "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1"
}
ok=""
for _ in $(seq 1 60); do
  if query 'sum(up{job="belfry"})' 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
sys.exit(0 if r and float(r[0]["value"][1]) == 4 else 1)' &&
     query 'min(belfry_epochs_committed_total)' 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
sys.exit(0 if r and float(r[0]["value"][1]) >= float(sys.argv[1]) else 1)' "$after_epochs"; then
    ok=yes
    break
  fi
  sleep 0.5
done
[ -n "$ok" ] || { tail -20 "$WORK/prometheus.log" >&2; fail "Prometheus did not scrape all four replicas"; }

# ---- health ----
for r in 0 1 2 3; do
  "$BIN/belfry-replica" --health-check "127.0.0.1:$(metrics_port "$r")" || fail "replica $r not ready"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(metrics_port "$r")/livez")" = 200 ] ||
    fail "replica $r: /livez is not 200"
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(metrics_port 0)/nothing")" = 404 ] ||
  fail "an unknown path is not 404"
"$BIN/belfry" status > "$WORK/status.txt" || fail "belfry status failed on a healthy cluster"
grep -q '^REPLICA  ADDRESS' "$WORK/status.txt" || fail "belfry status printed no table header"
[ "$(grep -c ' healthy ' "$WORK/status.txt")" -eq 4 ] || fail "not every replica reported healthy"

# ---- log rotation: SIGHUP reopens --log-file (and reloads a renewed certificate) ----
ROT="$WORK/rotating.log"
"$BIN/belfry-cluster" down --dir "$CLUSTER" --replicas 3 >/dev/null
"$BIN/belfry-cluster" up --dir "$CLUSTER" --replicas 3 \
  --replica-args "--log-format json --log-level debug --log-file $ROT" >/dev/null
[ -s "$ROT" ] || fail "--log-file received nothing"
mv "$ROT" "$ROT.1"
old_not_after=$(not_after_of 3)
"$BIN/belfry-setup" renew --dir "$CLUSTER" --replica 3 >/dev/null
# The old certificate was issued at least a second before, so the new one ends later.
[ "$(not_after_of 3)" -gt "$old_not_after" ] || fail "the renewed certificate does not end later"
kill -HUP "$(cat "$CLUSTER/run/replica-3.pid")"
cert_gauge_follows() {
  [ "$(value_of 3 belfry_tls_certificate_expiry_timestamp_seconds)" = "$(not_after_of 3)" ]
}
until_true --what "the expiry gauge of replica 3 at its renewed certificate's notAfter" \
  cert_gauge_follows || fail "belfry_tls_certificate_expiry_timestamp_seconds did not follow the reload"
"$BIN/belfry" checkin after-rotation "$WORK/doc" >/dev/null
for _ in $(seq 1 50); do [ -s "$ROT" ] && break; sleep 0.1; done
[ -s "$ROT" ] || fail "SIGHUP did not reopen the log file"
grep -q '"event":"log_reopened"' "$ROT" || fail "the reopened log does not record the reopen"

# ---- alerts: one replica down is a warning, two leave fewer than 2f+1 ----
# alerts_named NAME: the states ("firing", "pending") of the active alerts called NAME, one
# a line, each with its instance label.
alerts_named() {
  curl -fsS --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/alerts" | python3 -c '
import json, sys
for a in json.load(sys.stdin)["data"]["alerts"]:
    if a["labels"]["alertname"] == sys.argv[1]:
        print(a["state"], a["labels"].get("instance", "-"))' "$1"
}
firing() { alerts_named "$1" | grep -x "firing ${2:--}" >/dev/null; }
no_alert() { local out; out=$(alerts_named "$1") && [ -z "$out" ]; }
"$BIN/belfry-cluster" down --dir "$CLUSTER" --replicas 1 >/dev/null
# The rules hold an alert for 30 s (`for:`) before it fires.
until_true --what "BelfryReplicaDown firing for replica 1" --seconds 90 \
  firing BelfryReplicaDown "127.0.0.1:$(metrics_port 1)" || fail "no replica-down alert"
no_alert BelfryQuorumAtRisk || { alerts_named BelfryQuorumAtRisk >&2;
  fail "BelfryQuorumAtRisk is active with 3 of 4 replicas up, which is 2f+1"; }
"$BIN/belfry-cluster" down --dir "$CLUSTER" --replicas 2 >/dev/null
until_true --what "BelfryQuorumAtRisk firing" --seconds 90 firing BelfryQuorumAtRisk ||
  fail "no quorum-at-risk alert with 2 of 4 replicas down"

# ---- status with fewer than 2f+1 healthy replicas ----
"$BIN/belfry-replica" --health-check "127.0.0.1:$(metrics_port 1)" 2>/dev/null &&
  fail "the health check passed for a stopped replica"
set +e
"$BIN/belfry" status > "$WORK/status-down.txt" 2>&1
code=$?
set -e
[ "$code" -eq 7 ] || { cat "$WORK/status-down.txt" >&2; fail "belfry status exited $code, not 7, with 2 of 4 replicas down"; }
grep -q 'unreachable' "$WORK/status-down.txt" || fail "the stopped replicas are not shown unreachable"
"$BIN/belfry-cluster" up --dir "$CLUSTER" --replicas 1,2 >/dev/null
until_true --what "BelfryQuorumAtRisk resolved" no_alert BelfryQuorumAtRisk ||
  fail "BelfryQuorumAtRisk still active with every replica back"

# ---- logs: valid JSON, and no secrets or contents ----
cat "$CLUSTER"/logs/*.log "$ROT" "$ROT.1" > "$WORK/all.log"
python3 - "$WORK/all.log" <<'EOF' || fail "a replica log line is not a JSON object"
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.strip()
    if not line or not line.startswith("{"):
        continue  # plain stderr lines of the launcher, if any
    obj = json.loads(line)
    assert {"ts", "level", "component", "event"} <= obj.keys(), line
    n += 1
assert n > 20, f"only {n} JSON log lines"
EOF
grep -q '"level":"debug"' "$WORK/all.log" || fail "--log-level debug produced no debug line"
secrets=("$CANARY")
secrets+=("$(sed -n 's/^session_seed //p' "$BELFRY_HOME"/*/alice.session)")
secrets+=("$(sed -n '2p' "$CLUSTER/users/alice/alice.key")")       # PEM body of the user key
secrets+=("$(sed -n '2p' "$CLUSTER/ca.key")")
for k in 0 1 2 3; do
  for f in reply.key coin.share tdh2.share; do
    secrets+=("$(od -An -tx1 -N16 "$CLUSTER/replicas/replica-$k/$f" | tr -d ' \n')")
  done
  secrets+=("$(sed -n '2p' "$CLUSTER/replicas/replica-$k/tls.key")")
done
for s in "${secrets[@]}"; do
  [ "${#s}" -ge 16 ] || fail "a canary or secret to look for is too short: the test is broken"
  if grep -qiF -- "$s" "$WORK/all.log" "$WORK/prometheus.log" "$WORK"/metrics-*.txt; then
    fail "a secret or document content appears in a log or metrics page"
  fi
done
echo "ops_e2e: metrics, dashboard and rule series, alerts, Prometheus scrape, health, status, JSON logs, rotation and log hygiene OK"
