#!/usr/bin/env bash
# deploy/docker/Dockerfile, without a container engine: the apt step its build stage runs
# (scripts/install-deps.sh --build-only) succeeds and is idempotent here; its structure
# (multi-stage Debian 12, Release build, only built programs copied, non-root USER, VOLUME,
# HEALTHCHECK through belfry-replica, ENTRYPOINT); and its runtime package list is exactly
# the set of Debian packages owning the shared libraries the copied programs link (ldd +
# dpkg -S), so a new dependency cannot be forgotten nor a stale one linger. Broken copies
# must be refused. Usage: dockerfile_test.sh SRC BIN
set -euo pipefail
SRC=$1
BIN=$2
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/belfry-deploy-docker.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$SRC/scripts/install-deps.sh" --build-only || fail "scripts/install-deps.sh --build-only"
"$SRC/scripts/install-deps.sh" --build-only || fail "scripts/install-deps.sh --build-only (second run)"

needed_packages() {  # needed_packages PROGRAM...: packages owning every library they link
  local prog
  : >"$WORK/libs"
  for prog in "$@"; do
    [ -x "$BIN/$prog" ] || { echo "FAIL: $BIN/$prog is not built"; return 1; }
    ldd "$BIN/$prog" >"$WORK/ldd" || { echo "FAIL: ldd $prog"; return 1; }
    if grep -q 'not found' "$WORK/ldd"; then echo "FAIL: ldd $prog: a library is not found"; return 1; fi
    awk '$2 == "=>" {print $3; next} $1 ~ /^\// {print $1}' "$WORK/ldd" >>"$WORK/libs"
  done
  sort -u -o "$WORK/libs" "$WORK/libs"
  # dpkg knows each file under one of its names only (usrmerge: /lib is /usr/lib), so every
  # spelling is asked for, all in one dpkg call: each call reads the whole package database.
  local lib real
  while read -r lib; do
    real=$(readlink -f "$lib")
    printf '%s\n' "$lib" "$real" "/usr$lib" "${lib#/usr}" "/usr$real" "${real#/usr}"
  done <"$WORK/libs" | sort -u >"$WORK/spellings"
  xargs dpkg -S <"$WORK/spellings" 2>/dev/null >"$WORK/owners" || true
  while read -r lib; do
    real=$(readlink -f "$lib")
    awk -v a="$lib" -v b="$real" -v c="/usr$lib" -v d="${lib#/usr}" -v e="/usr$real" -v f="${real#/usr}" '
      { path = $NF; owner = $1; sub(/[:,].*/, "", owner) }
      path == a || path == b || path == c || path == d || path == e || path == f { print owner; found = 1; exit }
      END { if (!found) exit 1 }' "$WORK/owners" || { echo "FAIL: no Debian package owns $lib"; return 1; }
  done <"$WORK/libs" >"$WORK/owners.found" || return 1
  sort -u "$WORK/owners.found"
}

check() {  # check DOCKERFILE: structure, then packages == what the copied programs link
  /usr/bin/python3 "$HERE/deploy_checks.py" dockerfile "$1" >"$WORK/parsed" || { cat "$WORK/parsed"; return 1; }
  local listed programs needed
  listed=$(sed -n 's/^packages //p' "$WORK/parsed" | tr ' ' '\n' | sort -u)
  programs=$(sed -n 's/^programs //p' "$WORK/parsed")
  # The programs rarely change between the broken copies: link them up once per list.
  if [ "$programs" != "$(cat "$WORK/needed.for" 2>/dev/null)" ]; then
    # shellcheck disable=SC2086 # a list of program names
    needed_packages $programs >"$WORK/needed" || { cat "$WORK/needed"; return 1; }
    echo "$programs" >"$WORK/needed.for"
  fi
  needed=$(cat "$WORK/needed")
  local missing extra
  missing=$(comm -13 <(echo "$listed") <(echo "$needed") | paste -sd' ' -)
  extra=$(comm -23 <(echo "$listed") <(echo "$needed") | paste -sd' ' -)
  [ -z "$missing" ] || { echo "FAIL: RUNTIME_PACKAGES lacks $missing"; return 1; }
  [ -z "$extra" ] || { echo "FAIL: RUNTIME_PACKAGES has packages no program links: $extra"; return 1; }
}
D="$SRC/deploy/docker/Dockerfile"
check "$D" >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; fail "deploy/docker/Dockerfile"; }

# The build context: no build trees, no key material.
for pattern in '.git' 'build*/' '**/*.key' '**/*.share' '**/ca.crt' '**/cluster.conf'; do
  grep -qxF -- "$pattern" "$SRC/.dockerignore" || fail ".dockerignore does not exclude $pattern"
done

broken() {  # broken "EXPECTED OUTPUT" SED_SCRIPT: the edited Dockerfile must fail with that text
  local want=$1 script=$2
  sed -e "$script" "$D" >"$WORK/Dockerfile"
  cmp -s "$WORK/Dockerfile" "$D" && fail "sed '$script' changed nothing; the mutation is stale"
  check "$WORK/Dockerfile" >"$WORK/out" 2>&1 && fail "a Dockerfile with '$script' passed the checks"
  grep -qF -- "$want" "$WORK/out" || { cat "$WORK/out" >&2; fail "'$script' failed, but not with '$want'"; }
}
broken "RUNTIME_PACKAGES lacks libsodium23" '/^ libsodium23 \\$/d'
broken "RUNTIME_PACKAGES has packages no program links: curl" 's/^ zlib1g"$/ zlib1g curl"/'
broken "must end as a non-root USER" 's/^USER 10001:10001$/USER root/'
broken "HEALTHCHECK must run belfry-replica" 's/"--health-check", //'
broken "is not Debian 12" 's/^\(ARG RUNTIME_BASE_IMAGE=debian:\)12-slim$/\111-slim/'
broken "is not Debian 12" 's/^ARG BASE_IMAGE=debian:12$/ARG BASE_IMAGE=ubuntu:22.04/'
broken "base image '\${RUNTIME_BASE_IMAGE}' is not Debian 12" \
  's/^ARG RUNTIME_BASE_IMAGE=.*$/ARG RUNTIME_BASE_IMAGE/'
broken "must be multi-stage" '/^FROM ${BASE_IMAGE} AS build$/,/^ && cmake --build/d'
broken "VOLUME /var/lib/belfry missing" '/^VOLUME /d'
broken "which is not a built program" 's|/build/bin/belfry /usr/local|/build/lib/libfoo.so /usr/local|'
broken "may copy only programs from the build stage" 's|^COPY --from=build /build/bin/belfry-replica|COPY . /src\n&|'
broken "install-deps.sh --build-only" 's/install-deps.sh --build-only/install-deps.sh/'
echo "ok: Dockerfile"
