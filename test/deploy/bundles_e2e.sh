#!/usr/bin/env bash
# The compose topology's key handling run for real, on loopback: the `setup` service's
# script (deploy/docker/setup-bundles.sh) deals a cluster and fills one bundle per replica.
# Each bundle must hold exactly cluster.conf, ca.crt and that replica's own five files, with
# the modes the key loaders demand; a rerun deals nothing and rewrites the same bundles,
# sweeping out anything planted in them; a bundle of another cluster is refused; once the
# dealer's copies of the replica keys are deleted, complete bundles are kept. Then four
# replicas, each started from its bundle alone with the deployments' flags, pass the image's
# health check, serve a confidential checkin and checkout (the coin and TDH2 shares work),
# log JSON lines and stop cleanly on SIGTERM.
# Usage: bundles_e2e.sh SRC BIN BASE_PORT
set -euo pipefail
SRC=$1
BIN=$2
BASE_PORT=$3
WORK=$(mktemp -d /tmp/belfry-deploy-bundles.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

export BELFRY_DEALER_DIR="$WORK/setup" BELFRY_BUNDLES_DIR="$WORK/bundles" \
  BELFRY_SETUP="$BIN/belfry-setup" BELFRY_REPLICAS=4 BELFRY_USERS=alice \
  BELFRY_HOSTS=localhost,localhost,localhost,localhost BELFRY_BASE_PORT="$BASE_PORT" \
  BELFRY_SERVICE_KEY_PRIMES="$BIN/test-service-key-primes.txt"
bundles() { "$SRC/deploy/docker/setup-bundles.sh" >>"$WORK/setup.log" 2>&1; }
digest() {  # every bundle file's path, mode and content hash
  (cd "$WORK/bundles" && find . -type f -printf '%p %m ' -exec sha256sum {} \; | sort)
}

# Like compose, the bundle folders are volumes that exist before setup runs.
mkdir -p "$WORK"/bundles/replica-{0,1,2,3}
bundles || { cat "$WORK/setup.log" >&2; fail "setup-bundles.sh"; }
for k in 0 1 2 3; do
  got=$(cd "$WORK/bundles/replica-$k" && find . -type f -printf '%m %p\n' | sort)
  want=$(printf '%s\n' "644 ./ca.crt" "644 ./cluster.conf" "644 ./service-key.pub" "644 ./service.crt" \
    "600 ./replicas/replica-$k/coin.share" "644 ./replicas/replica-$k/tls.crt" \
    "600 ./replicas/replica-$k/reply.key" "600 ./replicas/replica-$k/tdh2.share" \
    "600 ./replicas/replica-$k/service.share" "600 ./replicas/replica-$k/tls.key" | sort)
  [ "$got" = "$want" ] || fail "bundle $k holds:
$got
expected:
$want"
  for f in coin.share tdh2.share reply.key tls.key; do
    cmp -s "$WORK/bundles/replica-$k/replicas/replica-$k/$f" "$WORK/setup/replicas/replica-$k/$f" ||
      fail "bundle $k's $f is not replica $k's"
  done
done
if grep -rqF -- "$(sed -n 2p "$WORK/setup/ca.key")" "$WORK/bundles"; then fail "the CA key reached a bundle"; fi

# Idempotent: nothing dealt again, same bundles, and a planted file is swept out.
before=$(digest)
conf=$(sha256sum <"$WORK/setup/cluster.conf")
cp "$WORK/setup/ca.key" "$WORK/bundles/replica-1/ca.key"
bundles || { cat "$WORK/setup.log" >&2; fail "setup-bundles.sh, second run"; }
grep -q "already holds a cluster; dealing nothing" "$WORK/setup.log" || fail "the second run dealt again"
[ "$(sha256sum <"$WORK/setup/cluster.conf")" = "$conf" ] || fail "the second run changed cluster.conf"
[ "$(digest)" = "$before" ] || fail "the second run left different bundles"

# A bundle of another cluster is refused, not re-keyed.
cp "$WORK/bundles/replica-2/cluster.conf" "$WORK/conf.keep"
echo "# another cluster" >>"$WORK/bundles/replica-2/cluster.conf"
if bundles; then fail "a bundle of another cluster was overwritten"; fi
grep -q "holds another cluster's files" "$WORK/setup.log" || fail "wrong refusal for another cluster's bundle"
cp "$WORK/conf.keep" "$WORK/bundles/replica-2/cluster.conf"

# With the replicas' keys deleted from the dealer's folder, the bundles are the only copies
# and are kept as they are; a bundle that is incomplete then cannot be repaired and is refused.
rm -rf "$WORK/setup/replicas"
bundles || { cat "$WORK/setup.log" >&2; fail "setup-bundles.sh without the dealer's replica keys"; }
grep -q "replica 3: keeping its bundle" "$WORK/setup.log" || fail "bundles were not kept"
[ "$(digest)" = "$before" ] || fail "bundles changed although the dealer no longer holds keys"
mv "$WORK/bundles/replica-3/replicas/replica-3/tls.key" "$WORK/tls.key.keep"
if bundles; then fail "an incomplete bundle was accepted without the dealer's keys"; fi
grep -q "replica 3: .* is incomplete and .* is gone" "$WORK/setup.log" || fail "wrong refusal for an incomplete bundle"
mv "$WORK/tls.key.keep" "$WORK/bundles/replica-3/replicas/replica-3/tls.key"

# Each replica runs from its own bundle only, with the flags the compose file and the
# manifests pass (listening on loopback here, and each on its own metrics port, since all
# four share one host), and becomes healthy by the image's HEALTHCHECK command. As under
# compose, cluster.conf names hosts, not addresses: peers and the CLI resolve "localhost".
metrics_port() { echo $((BASE_PORT + 3 * $1 + 2)); }
for k in 0 1 2 3; do
  mkdir -p "$WORK/data-$k"
  "$BIN/belfry-replica" --config "$WORK/bundles/replica-$k/cluster.conf" --id "$k" \
    --data "$WORK/data-$k/store" --listen-host 127.0.0.1 \
    --metrics-address "127.0.0.1:$(metrics_port "$k")" --log-format json 2>"$WORK/replica-$k.log" &
  pids+=($!)
done
for k in 0 1 2 3; do
  for ((i = 0; i < 60; i++)); do
    if "$BIN/belfry-replica" --health-check "127.0.0.1:$(metrics_port "$k")" 2>/dev/null; then break; fi
    sleep 0.5
  done
  "$BIN/belfry-replica" --health-check "127.0.0.1:$(metrics_port "$k")" ||
    { cat "$WORK/replica-$k.log" >&2; fail "replica $k never became healthy"; }
done
export BELFRY_HOME="$WORK/home" BELFRY_CLUSTER="$WORK/setup/cluster.conf"
key="$WORK/setup/users/alice/alice.key"
"$BIN/belfry" status --key "$key" >/dev/null || fail "the healthy replicas did not answer belfry status"
echo "canary-bundles-e2e" >"$WORK/doc"
"$BIN/belfry" login alice --key "$key" >/dev/null
"$BIN/belfry" checkin doc "$WORK/doc" --confidential >/dev/null
"$BIN/belfry" checkout doc --out "$WORK/doc.out" >/dev/null
cmp -s "$WORK/doc" "$WORK/doc.out" || fail "checkout returned other bytes"

# SIGTERM: every replica exits 0 within its grace period.
for p in "${pids[@]}"; do kill -TERM "$p"; done
deadline=$((SECONDS + 15))
for p in "${pids[@]}"; do
  while kill -0 "$p" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  kill -0 "$p" 2>/dev/null && fail "replica pid $p ignored SIGTERM"
  wait "$p" || fail "replica pid $p exited $? after SIGTERM"
done
pids=()
# --log-format json: every line a replica wrote is one JSON object.
for k in 0 1 2 3; do
  /usr/bin/python3 -c 'import json, sys
for line in open(sys.argv[1]):
    json.loads(line)' "$WORK/replica-$k.log" || fail "replica $k wrote a log line that is not JSON"
done
echo "ok: bundles"
