#!/usr/bin/env bash
# Installs Belfry's build and run dependencies from Debian 12's packages.
# Idempotent: when every package is already installed it does nothing, not even
# `apt-get update`, so `make test` stays fast and offline-safe on a prepared machine.
#
#   install-deps.sh [--build-only] [EXTRA_PACKAGE...]
#
# --build-only leaves out the tools that only the tests (test/deploy/, test/e2e/) use and
# the Python module's headers (python/); the container image's build stage
# (deploy/docker/Dockerfile) needs nothing more.
set -euo pipefail

build_only=0
if [ "${1:-}" = "--build-only" ]; then
  build_only=1
  shift
fi

packages=(
  build-essential cmake pkg-config make g++ openssl
  libasio-dev libssl-dev libsodium-dev
  libprotobuf-dev protobuf-compiler libabsl-dev
  librocksdb-dev libisal-dev catch2
)
if [ "$build_only" -eq 0 ]; then
  # Tests: e2e_ops scrapes the replicas with a real Prometheus server and promtool;
  # test/deploy/ validates the compose file and the Kubernetes manifests offline;
  # comment_paths runs scripts/check_comment_paths.py.
  packages+=(prometheus curl python3 docker-compose python3-yaml)
  # The belfry Python module (python/) and its test (test/python/).
  packages+=(pybind11-dev python3-dev)
  # Debian's kubernetes-client conflicts with other kubectl packages (e.g. the Google
  # Cloud SDK's), so whichever kubectl is already on PATH is kept.
  if ! command -v kubectl >/dev/null 2>&1; then
    packages+=(kubernetes-client)
  fi
fi
# Extra packages for a target can be appended by the caller (e.g. the sanitizer build).
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
