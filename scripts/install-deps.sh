#!/usr/bin/env bash
# Installs Belfry's build and run dependencies from Debian 12's packages.
# Idempotent: when every package is already installed it does nothing, not even
# `apt-get update`, so `make test` stays fast and offline-safe on a prepared machine.
#
#   install-deps.sh [--build-only | --container-engine] [EXTRA_PACKAGE...]
#
# --build-only leaves out the tools that only the tests (test/deploy/, test/e2e/) use and
# the Python module's headers (python/); the container image's build stage
# (deploy/docker/Dockerfile) needs nothing more.
# --container-engine adds what `make compose-test` alone needs (test/deploy/compose_e2e.sh):
# podman driven by docker-compose, and mmdebstrap for a base image made without a registry.
# It also writes the engine settings that test needs, as a drop-in of its own
# (see write_engine_settings below), so `make test` never installs an engine.
set -euo pipefail

build_only=0
container_engine=0
case "${1:-}" in
  --build-only) build_only=1; shift ;;
  --container-engine) container_engine=1; shift ;;
esac

packages=(
  build-essential cmake pkg-config make g++ openssl
  libasio-dev libssl-dev libsodium-dev
  libprotobuf-dev protobuf-compiler libabsl-dev
  librocksdb-dev libisal-dev catch2
)
if [ "$build_only" -eq 0 ]; then
  # Tests: e2e_ops scrapes the replicas with a real Prometheus server and promtool;
  # test/deploy/ validates the compose file and the Kubernetes manifests offline;
  # comment_paths runs scripts/check_comment_paths.py; deploy_netns_e2e makes network
  # namespaces, veth pairs and a bridge with ip (iproute2).
  packages+=(prometheus curl python3 docker-compose python3-yaml iproute2)
  # The belfry Python module (python/) and its test (test/python/).
  packages+=(pybind11-dev python3-dev)
  # Debian's kubernetes-client conflicts with other kubectl packages (e.g. the Google
  # Cloud SDK's), so whichever kubectl is already on PATH is kept.
  if ! command -v kubectl >/dev/null 2>&1; then
    packages+=(kubernetes-client)
  fi
fi
if [ "$container_engine" -eq 1 ]; then
  # podman runs the containers under runc (Debian's podman also accepts crun, which fails on
  # a hybrid cgroup v1/v2 host); netavark and aardvark-dns give a compose network on which
  # services find each other by name, and iptables is what netavark publishes ports with.
  packages+=(podman runc netavark aardvark-dns iptables mmdebstrap)
fi
# Extra packages for a target can be appended by the caller (e.g. the sanitizer build).
packages+=("$@")

# The engine settings compose_e2e.sh needs, in a drop-in of our own: an operator's
# /etc/containers/containers.conf is never touched, and a drop-in an operator has edited
# (it no longer starts with our marker line) is left alone. Drop-ins are read after
# containers.conf; a later-sorting drop-in of the operator's overrides this one.
engine_conf_dir=/etc/containers/containers.conf.d
engine_conf=$engine_conf_dir/50-belfry-compose-test.conf
engine_marker="# Written by Belfry's scripts/install-deps.sh --container-engine; delete to undo."
engine_settings() {
  cat <<EOF
$engine_marker
# runc, not crun (crun fails on a hybrid cgroup layout), and cgroupfs, since a machine
# without systemd as init has no systemd cgroup manager.
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
# The engine's default ulimits lie above what such a machine allows a container
# ("setrlimit: Operation not permitted"); these fit under its hard limits.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
EOF
}
write_engine_settings() {
  if [ -f "$engine_conf" ]; then
    if [ "$(head -n 1 "$engine_conf")" != "$engine_marker" ]; then
      echo "install-deps: $engine_conf was changed by hand; leaving it as it is" >&2
      return 0
    fi
    if [ "$(cat "$engine_conf")" = "$(engine_settings)" ]; then
      return 0
    fi
  fi
  echo "install-deps: writing $engine_conf" >&2
  $sudo mkdir -p "$engine_conf_dir"
  engine_settings | $sudo tee "$engine_conf.tmp" >/dev/null
  $sudo mv "$engine_conf.tmp" "$engine_conf"
}

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -ne 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ "$container_engine" -eq 1 ]; then
  write_engine_settings
fi
