#!/usr/bin/env bash
# The one-shot `setup` service of deploy/docker-compose.yml (installed in the image as
# belfry-setup-bundles). It deals a cluster once, then gives each replica a bundle holding
# exactly what that replica needs and nothing else:
#
#   BUNDLES/replica-K/cluster.conf                    public
#   BUNDLES/replica-K/ca.crt                          public
#   BUNDLES/replica-K/replicas/replica-K/{tls.crt,tls.key,reply.key,coin.share,tdh2.share,service.share}
#
# Never ca.key, never user keys, never another replica's keys. Each BUNDLES/replica-K is
# the volume replica K alone mounts (read-only, at /etc/belfry), so a compromised replica
# container cannot read another replica's key shares or the CA key.
#
# Idempotent: when DEALER already holds cluster.conf nothing is dealt (that is also how a
# folder dealt offline by belfry-setup is imported: mount it, without its ca.key, as DEALER);
# bundles are rewritten from DEALER every run (or kept, once DEALER no longer holds that
# replica's keys), and a bundle of another cluster is refused rather than silently re-keyed.
#
# Environment (defaults suit the compose file):
#   BELFRY_DEALER_DIR   the dealer's output folder                         (/setup)
#   BELFRY_BUNDLES_DIR  the folder holding one replica-K folder per replica (/bundles)
#   BELFRY_REPLICAS, BELFRY_HOSTS, BELFRY_USERS, BELFRY_BASE_PORT   for `belfry-setup init`
#   BELFRY_SETUP        the belfry-setup program                           (belfry-setup)
#   BELFRY_SERVICE_KEY_PRIMES  tests only: deal the service key from these known primes
#   BELFRY_UID, BELFRY_GID  owner of the bundle files when run as root      (10001)
set -euo pipefail

dealer=${BELFRY_DEALER_DIR:-/setup}
bundles=${BELFRY_BUNDLES_DIR:-/bundles}
setup=${BELFRY_SETUP:-belfry-setup}
owner_uid=${BELFRY_UID:-10001}
owner_gid=${BELFRY_GID:-10001}
replica_files=(tls.crt tls.key reply.key coin.share tdh2.share service.share)

say() { echo "setup-bundles: $*" >&2; }
die() { say "$*"; exit 1; }

if [ -f "$dealer/cluster.conf" ]; then
  say "$dealer already holds a cluster; dealing nothing"
else
  args=(init --replicas "${BELFRY_REPLICAS:-4}" --out "$dealer")
  if [ -n "${BELFRY_HOSTS:-}" ]; then args+=(--hosts "$BELFRY_HOSTS"); fi
  if [ -n "${BELFRY_USERS:-}" ]; then args+=(--users "$BELFRY_USERS"); fi
  if [ -n "${BELFRY_BASE_PORT:-}" ]; then args+=(--base-port "$BELFRY_BASE_PORT"); fi
  if [ -n "${BELFRY_SERVICE_KEY_PRIMES:-}" ]; then
    args+=(--insecure-service-key-primes "$BELFRY_SERVICE_KEY_PRIMES")
  fi
  "$setup" "${args[@]}"
fi

# The replica count comes from the dealt cluster, not from the environment, so an imported
# folder is distributed as it was dealt.
n=$(grep -c '^replicas {' "$dealer/cluster.conf" || true)
if [ "$n" -lt 4 ]; then
  die "$dealer/cluster.conf names $n replicas; expected at least 4"
fi

# install(1) as root also sets the owner: the replica runs as BELFRY_UID and its key
# loaders refuse files that group or others can read, so the owner must be exact.
own=()
if [ "$(id -u)" -eq 0 ]; then
  own=(-o "$owner_uid" -g "$owner_gid")
fi

complete() {  # complete BUNDLE K: the bundle holds all of replica K's files for this cluster
  local f
  cmp -s "$1/cluster.conf" "$dealer/cluster.conf" && [ -f "$1/ca.crt" ] && [ -f "$1/service-key.pub" ] &&
    [ -f "$1/service.crt" ] || return 1
  for f in "${replica_files[@]}"; do
    [ -f "$1/replicas/replica-$2/$f" ] || return 1
  done
}

for ((k = 0; k < n; k++)); do
  bundle="$bundles/replica-$k"
  src="$dealer/replicas/replica-$k"
  [ -d "$bundle" ] || die "$bundle does not exist: mount replica $k's bundle volume there"
  if [ -f "$bundle/cluster.conf" ] && ! cmp -s "$bundle/cluster.conf" "$dealer/cluster.conf"; then
    die "$bundle holds another cluster's files; remove that cluster's volumes first"
  fi
  # Once every bundle is filled, the operator may delete the replicas' keys from DEALER
  # (deploy/README.md), leaving each replica's bundle the only copy of its keys.
  if [ ! -d "$src" ]; then
    complete "$bundle" "$k" || die "replica $k: $bundle is incomplete and $src is gone"
    say "replica $k: keeping its bundle; $dealer no longer holds its keys"
    continue
  fi
  for f in "${replica_files[@]}"; do
    [ -f "$src/$f" ] || die "$src/$f is missing"
  done
  # The bundle is rebuilt from scratch, so nothing else can linger in it.
  find "$bundle" -mindepth 1 -delete
  install "${own[@]}" -m 0644 "$dealer/ca.crt" "$bundle/ca.crt"
  install "${own[@]}" -m 0644 "$dealer/service-key.pub" "$bundle/service-key.pub"
  install "${own[@]}" -m 0644 "$dealer/service.crt" "$bundle/service.crt"
  install "${own[@]}" -d -m 0755 "$bundle/replicas"
  install "${own[@]}" -d -m 0700 "$bundle/replicas/replica-$k"
  install "${own[@]}" -m 0644 "$src/tls.crt" "$bundle/replicas/replica-$k/tls.crt"
  for f in tls.key reply.key coin.share tdh2.share service.share; do
    install "${own[@]}" -m 0600 "$src/$f" "$bundle/replicas/replica-$k/$f"
  done
  # cluster.conf last: its presence marks a complete bundle.
  install "${own[@]}" -m 0644 "$dealer/cluster.conf" "$bundle/cluster.conf"
  say "replica $k: bundle ready in $bundle"
done
if [ -d "$dealer/users" ]; then
  say "user keys are in $dealer/users; copy them to their users and keep ca.key offline"
fi
