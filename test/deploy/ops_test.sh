#!/usr/bin/env bash
# deploy/grafana/belfry.json and deploy/prometheus/alerts.yml, offline: `promtool check
# rules`, the rules' unit tests (`promtool test rules` on alerts_test.yml), `promtool check
# config` on deploy/prometheus.yml, which loads the rules, and test/deploy/ops_checks.py:
# the dashboard is well-formed and every series a panel or a rule reads is one that
# replica/node/metrics_page.cc renders. (test/e2e/ops_e2e.sh checks the same names against
# real /metrics pages, and makes the alerts fire.) Then broken copies must be refused, each
# for its own reason. Usage: ops_test.sh SRC
set -euo pipefail
SRC=$1
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/belfry-deploy-ops.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v promtool >/dev/null ||
  fail "promtool is missing: scripts/install-deps.sh installs prometheus"

DASH="$SRC/deploy/grafana/belfry.json"
RULES="$SRC/deploy/prometheus/alerts.yml"
PAGE="$SRC/replica/node/metrics_page.cc"
checks() {  # checks DASHBOARD RULES PAGE_SOURCE
  /usr/bin/python3 "$HERE/ops_checks.py" --dashboard "$1" --rules "$2" --source "$3"
}

promtool check rules "$RULES" >"$WORK/out" 2>&1 ||
  { cat "$WORK/out" >&2; fail "promtool check rules"; }
(cd "$SRC/deploy/prometheus" && promtool test rules alerts_test.yml) >"$WORK/out" 2>&1 ||
  { cat "$WORK/out" >&2; fail "promtool test rules deploy/prometheus/alerts_test.yml"; }
# prometheus.yml names the rules by a path relative to itself; promtool resolves it so too.
promtool check config "$SRC/deploy/prometheus.yml" >"$WORK/out" 2>&1 ||
  { cat "$WORK/out" >&2; fail "promtool check config deploy/prometheus.yml"; }
grep -q "SUCCESS: 1 rule files found" "$WORK/out" ||
  { cat "$WORK/out" >&2; fail "prometheus.yml loads no rule file"; }
checks "$DASH" "$RULES" "$PAGE" >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; fail "ops_checks.py"; }

# broken WHICH "EXPECTED OUTPUT" SED_SCRIPT: a copy of one file (dashboard, rules or page)
# edited by SED_SCRIPT must fail the checks, with that text in the output.
broken() {
  local which=$1 want=$2 script=$3 dash=$DASH rules=$RULES page=$PAGE orig copy
  case $which in
    dashboard) orig=$DASH; copy="$WORK/belfry.json"; dash=$copy ;;
    rules) orig=$RULES; copy="$WORK/alerts.yml"; rules=$copy ;;
    page) orig=$PAGE; copy="$WORK/metrics_page.cc"; page=$copy ;;
  esac
  sed -e "$script" "$orig" >"$copy"
  cmp -s "$copy" "$orig" && fail "sed '$script' changed nothing in $which; the mutation is stale"
  if { checks "$dash" "$rules" "$page" && promtool check rules "$rules"; } >"$WORK/out" 2>&1; then
    fail "a $which with '$script' passed the checks"
  fi
  grep -qF -- "$want" "$WORK/out" || {
    cat "$WORK/out" >&2; fail "'$script' on the $which failed, but not with '$want'"; }
}
broken dashboard "panel 'RocksDB size' A: unknown metric belfry_store_size_bytes" \
  's/belfry_store_bytes/belfry_store_size_bytes/'
broken dashboard "not valid JSON" '0,/"panels": \[/s//"panels": [[/'
broken dashboard "no panel 'Faults by peer'" 's/"Faults by peer"/"Faults"/'
broken dashboard "panel id 1 is used twice" 's/"id": 2$/"id": 1/'
broken dashboard "is not the \${datasource} variable" 's/"uid": "${datasource}"/"uid": "prom"/g'
broken rules "BelfryReplicaLagging: unknown metric belfry_next_epochs" \
  '/alert: BelfryReplicaLagging/,/for:/s/belfry_next_epoch)/belfry_next_epochs)/'
broken rules "no alert BelfryQuorumAtRisk" 's/alert: BelfryQuorumAtRisk/alert: BelfryQuorum/'
broken rules "BelfryReplicaDown: severity must be warning or critical" \
  '/alert: BelfryReplicaDown/,/severity/s/severity: warning/severity: page/'
broken rules "parse error" 's/group_right()/group_right(/'
# A metric renamed in the replica's code, with the dashboard and rules left behind.
broken page "panel 'Link state' A: unknown metric belfry_peer_link_up" \
  's/"belfry_peer_link_up"/"belfry_peer_link_established"/'

# The rules' unit tests must notice a rule that fires too late or too early.
mkdir -p "$WORK/rules"
cp "$SRC/deploy/prometheus/alerts_test.yml" "$WORK/rules/"
mutant() {  # mutant SED_SCRIPT: alerts.yml so edited must fail its unit tests
  sed -e "$1" "$RULES" >"$WORK/rules/alerts.yml"
  cmp -s "$WORK/rules/alerts.yml" "$RULES" && fail "sed '$1' changed nothing; the mutation is stale"
  if (cd "$WORK/rules" && promtool test rules alerts_test.yml) >"$WORK/out" 2>&1; then
    fail "the unit tests passed alerts.yml with '$1'"
  fi
}
mutant 's/< on() max(belfry_quorum_replicas)/<= on() max(belfry_quorum_replicas)/'  # 1 down
mutant 's/or on() absent(belfry_ready == 1)//'              # every replica down, silent
mutant 's/(50 + 30 \* max/(50 + 0 * max/'                  # scrape skew taken for lag
mutant 's/kind!="epoch_out_of_window"/kind!="none"/'      # a replica behind blames peers
mutant 's/< 3 \* 86400/< 1 * 86400/'                       # critical a day, not 3, ahead
echo "ok: dashboard and alert rules"
