#!/usr/bin/env bash
# deploy/docker-compose.yml: Debian's docker-compose (1.29) accepts it, and every replica
# mounts only its own key bundle (read-only, the one `setup` fills for it) and its own data
# volume, never the dealer's volume that holds ca.key (test/deploy/deploy_checks.py).
# deploy/prometheus.yml passes `promtool check config` where promtool is installed.
# Then broken copies must be refused, each for its own reason: a check that cannot fail
# proves nothing. Usage: compose_test.sh SRC
set -euo pipefail
SRC=$1
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/belfry-deploy-compose.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# Variables the file reads; the caller's values must not change what is checked.
unset BELFRY_IMAGE BELFRY_USERS BELFRY_DEALER_DIR
export COMPOSE_PROJECT_NAME=belfry-check

check() {  # check FILE: docker-compose's own validation, then the mount checks on its output
  docker-compose -f "$1" config >"$WORK/normalized.yml" &&
    /usr/bin/python3 "$HERE/deploy_checks.py" compose "$WORK/normalized.yml"
}

if ! docker-compose -f "$SRC/deploy/docker-compose.yml" config -q >"$WORK/out" 2>&1 ||
  ! check "$SRC/deploy/docker-compose.yml" >"$WORK/out" 2>&1; then
  echo "FAIL: deploy/docker-compose.yml:" >&2; cat "$WORK/out" >&2; exit 1
fi

# Broken copies live at the same depth, so the build context (..) still resolves.
mkdir -p "$WORK/repo/deploy"
broken() {  # broken "EXPECTED OUTPUT" SED_SCRIPT: the edited file must fail with that text
  local want=$1 script=$2 copy="$WORK/repo/deploy/docker-compose.yml"
  sed -e "$script" "$SRC/deploy/docker-compose.yml" >"$copy"
  if cmp -s "$copy" "$SRC/deploy/docker-compose.yml"; then
    echo "FAIL: sed '$script' changed nothing; the mutation is stale" >&2; exit 1
  fi
  if check "$copy" >"$WORK/out" 2>&1; then
    echo "FAIL: a compose file with '$script' passed the checks" >&2; exit 1
  fi
  grep -qF -- "$want" "$WORK/out" || {
    echo "FAIL: '$script' failed, but not with '$want':" >&2; cat "$WORK/out" >&2; exit 1; }
}
broken "mounts replica-0-bundle, which setup fills for replica 0, not 1" \
  's/source: replica-1-bundle/source: replica-0-bundle/'
broken "replica-2: mounts the dealer's volume, which holds ca.key" \
  '/source: replica-2-data/{n;s|$|\n      - dealer:/etc/dealer:ro|}'
broken "replica-3: its key bundle must be mounted read-only" \
  '/source: replica-3-bundle/{n;n;s|read_only: true|read_only: false|}'
broken "must wait for setup to complete successfully" \
  's/condition: service_completed_successfully/condition: service_started/'
broken "must run as the image's unprivileged user" 's/user: "10001:10001"/user: "0:0"/'
broken "the dealer (setup) must run without a network" '/network_mode: none/d'
broken "setup BELFRY_HOSTS is" 's/BELFRY_HOSTS: replica-0,/BELFRY_HOSTS: replica-9,/'
broken "is published beyond loopback" 's/"127.0.0.1:7104:7104"/"7104:7104"/'
broken "services.replica-0.depends_on.setup.condition contains" \
  's/condition: service_completed_successfully/condition: service_completed/'
# promtool comes with Debian's prometheus package, which also brings a server daemon, so
# scripts/install-deps.sh does not install it; where it is installed, it must agree.
if command -v promtool >/dev/null; then
  promtool check config "$SRC/deploy/prometheus.yml" >"$WORK/out" 2>&1 ||
    { cat "$WORK/out" >&2; echo "FAIL: deploy/prometheus.yml" >&2; exit 1; }
  sed 's/static_configs:/static_config:/' "$SRC/deploy/prometheus.yml" >"$WORK/prometheus.yml"
  if promtool check config "$WORK/prometheus.yml" >/dev/null 2>&1; then
    echo "FAIL: promtool accepted a broken scrape config" >&2; exit 1
  fi
else
  echo "promtool not installed: deploy/prometheus.yml not checked"
fi
echo "ok: compose"
