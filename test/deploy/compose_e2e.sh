#!/usr/bin/env bash
# deploy/docker-compose.yml run for real, under podman driven by Debian's docker-compose
# (`make compose-test`; `make compose-image-full` with --full-image). What the offline checks
# (compose_test.sh, dockerfile_test.sh) cannot show:
#
#   1. a Debian 12 base image made here (mmdebstrap + podman import: no registry needed),
#      then the Belfry image from deploy/docker/Dockerfile on it. By default the build stage
#      is replaced by the host's programs (BIN) through a named build context, since compiling
#      inside the image takes as long as a host build; --full-image runs the whole Dockerfile;
#   2. `docker-compose up` of the real compose file: `setup` deals and fills the bundles and
#      exits 0, and all four replicas pass the image's health check;
#   3. a 3S session with the host's `belfry` CLI against the loopback-published ports: a
#      confidential document granted to a second user, an integrity certificate that stock
#      OpenSSL verifies, a delete;
#   4. the image's hardening, checked inside the running containers: uid 10001, read-only
#      root file system, no capabilities, no-new-privileges, and no replica container holding
#      ca.key or another replica's keys;
#   5. `docker-compose kill` of one replica: the cluster keeps serving; `start`: it catches up
#      to the epoch the others reached and becomes healthy, and with another replica stopped
#      (SIGTERM, exit 0) the cluster still serves, which needs the restarted one;
#   6. `docker-compose down -v`, after which podman shows none of the test's containers,
#      volumes or networks, and, once the test's podman API service and images are gone, no
#      container, volume, network or image exists that did not exist before.
#
# Everything the test starts is ended by its trap, on failure too: the compose project (a
# name of its own), the podman API service it started (on a socket of its own) and the images
# it tagged. It refuses to start when the compose file's host ports are taken.
#
# Usage: compose_e2e.sh SRC BIN [--full-image]
# Environment:
#   BELFRY_E2E_BASE_TAR    where the mmdebstrap tarball is kept between runs (it is reused
#                          while younger than a week; unset: made afresh in the work folder)
#   BELFRY_E2E_BASE_IMAGE  use this Debian 12 image instead of making one (e.g. debian:12
#                          where a registry is reachable); it is neither pulled nor removed
#   BELFRY_E2E_IMAGE       run on this image, built elsewhere (e.g. the whole Dockerfile in a
#                          store of its own), instead of building one; it is not removed
#   BELFRY_E2E_KEEP_WORK   keep the work folder (logs, client files) for inspection
set -euo pipefail
SRC=$(cd "$1" && pwd)
BIN=$(cd "$2" && pwd)
FULL=0
if [ "${3:-}" = "--full-image" ]; then FULL=1; fi

START=$SECONDS
WORK=$(mktemp -d /tmp/belfry-compose-e2e.XXXXXX)
TAG="e2e-$$"
BASE_IMAGE_OURS="localhost/belfry-e2e-base:$TAG"
IMAGE="localhost/belfry-e2e:$TAG"
export COMPOSE_FILE="$SRC/deploy/docker-compose.yml" COMPOSE_PROJECT_NAME="belfry-e2e-$$"
export BELFRY_IMAGE="$IMAGE" BELFRY_USERS=alice,bob
unset BELFRY_DEALER_DIR
PROJECT_LABEL="com.docker.compose.project=$COMPOSE_PROJECT_NAME"
# Each deadline bounds one wait for an event; the waits poll, they never sleep blindly.
HEALTHY_SECONDS_MAX=240
CATCHUP_SECONDS_MAX=180
SERVICE_SECONDS_MAX=60
# Dealing finds safe primes for the 3072-bit service key: a minute or two, longer when busy.
UP_SECONDS_MAX=900

service_pid=""
build_pid=""
socket_dir=""
images_ours=()
compose_started=0
passed=0

say() { echo "compose-e2e [$((SECONDS - START))s]: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

cleanup() {
  local rc=$?
  set +e
  if [ "$compose_started" -eq 1 ]; then
    if [ "$passed" -eq 0 ]; then
      echo "--- docker-compose ps and logs (last 40 lines per service)" >&2
      docker-compose ps >&2
      docker-compose logs --no-color --tail 40 >&2
    fi
    if [ -n "$service_pid" ] && kill -0 "$service_pid" 2>/dev/null; then
      docker-compose down -v --timeout 30 >>"$WORK/compose.log" 2>&1
    fi
    # Whatever compose could not remove (or a dead API service): only this project's objects.
    podman ps -aq --filter "label=$PROJECT_LABEL" | xargs -r podman rm -f >/dev/null 2>&1
    podman volume ls -q --filter "label=$PROJECT_LABEL" |
      xargs -r podman volume rm -f >/dev/null 2>&1
    podman network ls -q --filter "label=$PROJECT_LABEL" |
      xargs -r podman network rm -f >/dev/null 2>&1
  fi
  # A build still running holds its base image: it must end before the images are removed.
  if [ -n "$build_pid" ]; then
    kill "$build_pid" 2>/dev/null
    wait "$build_pid" 2>/dev/null
  fi
  if [ -n "$service_pid" ]; then
    kill "$service_pid" 2>/dev/null
    wait "$service_pid" 2>/dev/null
  fi
  if [ -n "$socket_dir" ]; then rm -rf "$socket_dir"; fi
  local image
  for image in "${images_ours[@]}"; do podman rmi -f "$image" >/dev/null 2>&1; done
  if [ -n "${BELFRY_E2E_KEEP_WORK:-}" ]; then
    echo "work folder kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in podman docker-compose curl openssl; do
  command -v "$tool" >/dev/null ||
    fail "$tool is not installed: run scripts/install-deps.sh --container-engine"
done
for prog in belfry belfry-replica belfry-setup; do
  [ -x "$BIN/$prog" ] || fail "$BIN/$prog is not built"
done
runtime=$(podman info --format '{{.Host.OCIRuntime.Name}}')
[ "$runtime" = runc ] ||
  fail "podman runs containers with $runtime, not runc: scripts/install-deps.sh --container-engine"
# The compose file publishes fixed loopback ports: a cluster already on them would be the
# one the CLI talked to.
for port in 7101 7102 7104 7105 7107 7108 7110 7111; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "127.0.0.1:$port is in use; the compose file publishes it (stop what listens there)"
  fi
done

# What exists before, so that "nothing left behind" is checked against it at the end.
snapshot() {  # snapshot NAME: every container, image, volume and network podman knows
  {
    podman ps -aq --no-trunc | sed 's/^/container /'
    podman images -aq --no-trunc | sed 's/^/image /'
    podman volume ls -q | sed 's/^/volume /'
    podman network ls -q --no-trunc | sed 's/^/network /'
  } | sort -u >"$WORK/$1"
}
snapshot before

# The Docker-compatible API that docker-compose drives, on a socket of this test's own.
socket_dir=$(mktemp -d /run/belfry-compose-e2e.XXXXXX)
podman system service --time=0 "unix://$socket_dir/podman.sock" >"$WORK/podman-service.log" 2>&1 &
service_pid=$!
export DOCKER_HOST="unix://$socket_dir/podman.sock"
deadline=$((SECONDS + SERVICE_SECONDS_MAX))
until curl -sf --unix-socket "$socket_dir/podman.sock" http://podman/_ping >/dev/null 2>&1; do
  kill -0 "$service_pid" 2>/dev/null ||
    { cat "$WORK/podman-service.log" >&2; fail "podman system service exited"; }
  [ "$SECONDS" -lt "$deadline" ] ||
    fail "podman system service did not answer in ${SERVICE_SECONDS_MAX}s"
  sleep 0.2
done
say "podman API service up (pid $service_pid)"

# 1. Images.
build_images() {  # the base image, then IMAGE from deploy/docker/Dockerfile
  if [ -n "${BELFRY_E2E_BASE_IMAGE:-}" ]; then
    base_image=$BELFRY_E2E_BASE_IMAGE
    say "base image: $base_image (given)"
  else
    tar_file=${BELFRY_E2E_BASE_TAR:-$WORK/debian-12-minbase.tar}
    if [ -f "$tar_file" ] && [ -n "$(find "$tar_file" -mtime -7)" ]; then
      say "base image: reusing $tar_file"
    else
      say "base image: mmdebstrap bookworm (minbase)"
      mkdir -p "$(dirname "$tar_file")"
      mmdebstrap --variant=minbase --mode=root --format=tar bookworm "$tar_file.tmp" \
        >"$WORK/mmdebstrap.log" 2>&1 ||
        { tail -20 "$WORK/mmdebstrap.log" >&2; rm -f "$tar_file.tmp"; fail "mmdebstrap"; }
      mv "$tar_file.tmp" "$tar_file"
    fi
    images_ours+=("$BASE_IMAGE_OURS")
    podman import "$tar_file" "$BASE_IMAGE_OURS" >"$WORK/import.log" 2>&1 ||
      { cat "$WORK/import.log" >&2; fail "podman import $tar_file"; }
    base_image=$BASE_IMAGE_OURS
  fi

  build_args=(build --layers=false -f "$SRC/deploy/docker/Dockerfile" -t "$IMAGE"
    --build-arg "BASE_IMAGE=$base_image" --build-arg "RUNTIME_BASE_IMAGE=$base_image")
  if [ "$FULL" -eq 0 ]; then
    # The named context `build` stands in for the build stage: COPY --from=build reads
    # DIR/build/bin/PROGRAM and the stage itself is never run.
    mkdir -p "$WORK/programs/build/bin"
    cp "$BIN/belfry" "$BIN/belfry-replica" "$BIN/belfry-setup" "$WORK/programs/build/bin/"
    build_args+=(--build-context "build=$WORK/programs")
    say "image: deploy/docker/Dockerfile with the host's programs from $BIN"
  else
    say "image: the whole deploy/docker/Dockerfile (compiles Belfry in the build stage)"
  fi
  images_ours+=("$IMAGE")
  build_start=$SECONDS
  # In the background, so that an interrupt reaches the trap at once rather than after the build.
  podman "${build_args[@]}" "$SRC" >"$WORK/build.log" 2>&1 &
  build_pid=$!
  wait "$build_pid" || { tail -40 "$WORK/build.log" >&2; fail "podman build"; }
  build_pid=""
  say "image $IMAGE built in $((SECONDS - build_start))s"
}
if [ -n "${BELFRY_E2E_IMAGE:-}" ]; then
  IMAGE=$BELFRY_E2E_IMAGE
  export BELFRY_IMAGE="$IMAGE"
  say "image: $IMAGE (given)"
else
  build_images
fi

# 2. The real compose file.
compose_started=1
say "docker-compose up (setup deals the keys first)"
timeout "$UP_SECONDS_MAX" docker-compose up -d --no-build >"$WORK/compose.log" 2>&1 ||
  { cat "$WORK/compose.log" >&2; fail "docker-compose up (bounded by ${UP_SECONDS_MAX}s)"; }
# Every docker-compose call asks the API service for /info, which costs seconds here, so the
# containers' ids are looked up once and podman answers the questions about them.
declare -A ids
while read -r id service; do
  ids[$service]=$id
done < <(podman ps -a --filter "label=$PROJECT_LABEL" \
  --format '{{.ID}} {{index .Labels "com.docker.compose.service"}}')
for service in setup replica-0 replica-1 replica-2 replica-3; do
  [ -n "${ids[$service]:-}" ] || fail "docker-compose made no container for $service"
done
container() { echo "${ids[$1]}"; }
setup_exit=$(podman inspect --format '{{.State.ExitCode}}' "$(container setup)")
[ "$setup_exit" = 0 ] || fail "setup exited $setup_exit"
docker-compose logs --no-color setup | grep -q "replica 3: bundle ready" ||
  fail "setup did not report replica 3's bundle"

# Podman runs health checks from systemd timers, and a machine without systemd has none, so
# the test runs the image's HEALTHCHECK command itself (what Docker's timer would do); podman
# records the result as the container's health, which compose then shows.
healthy() {  # healthy SERVICE: the image's health check passes in the container now
  podman healthcheck run "$(container "$1")" >/dev/null 2>&1
}
wait_healthy() {  # wait_healthy SERVICE SECONDS
  local deadline=$((SECONDS + $2))
  until healthy "$1"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$1 was not healthy within $2s"
    sleep 1
  done
}
for k in 0 1 2 3; do wait_healthy "replica-$k" "$HEALTHY_SECONDS_MAX"; done
docker-compose ps >"$WORK/ps"
[ "$(grep -c 'Up (healthy)' "$WORK/ps")" -eq 4 ] ||
  { cat "$WORK/ps" >&2; fail "compose does not show 4 healthy replicas"; }
say "setup exited 0; replica-0..3 healthy"

# 3. A 3S session from the host, through the published ports. The client's copy of
# cluster.conf names 127.0.0.1 where the dealt one names the services.
mkdir -p "$WORK/client"
docker-compose run --rm -T --entrypoint tar setup -C /setup -cf - \
  cluster.conf ca.crt service.crt service-key.pub users/alice users/bob ca.key \
  2>>"$WORK/compose.log" |
  tar -xf - -C "$WORK/client" || fail "could not copy the client files out of the dealer's volume"
# ca.key only serves the check in 4 that no replica container holds it.
mv "$WORK/client/ca.key" "$WORK/ca.key"
sed -i 's/host: "replica-[0-9]*"/host: "127.0.0.1"/' "$WORK/client/cluster.conf"
export BELFRY_CLUSTER="$WORK/client/cluster.conf" BELFRY_HOME="$WORK/home"
alice_key="$WORK/client/users/alice/alice.key"
bob_key="$WORK/client/users/bob/bob.key"
belfry() { "$BIN/belfry" --timeout 60 "$@"; }
belfry status --key "$alice_key" >"$WORK/status" ||
  { cat "$WORK/status" >&2; fail "belfry status"; }
belfry login alice --key "$alice_key" >/dev/null || fail "alice's login"
belfry login bob --key "$bob_key" >/dev/null || fail "bob's login"
head -c 4096 /dev/urandom | base64 >"$WORK/plans"
belfry --user alice checkin plans "$WORK/plans" --confidential >/dev/null ||
  fail "confidential checkin"
belfry --user alice grant plans bob checkout 600 >/dev/null || fail "grant"
belfry --user bob checkout plans --out "$WORK/plans.bob" >/dev/null || fail "bob's checkout"
cmp -s "$WORK/plans" "$WORK/plans.bob" || fail "bob's checkout returned other bytes"
echo "signed minutes" >"$WORK/minutes"
belfry --user alice checkin minutes "$WORK/minutes" --integrity >/dev/null ||
  fail "integrity checkin"
belfry --user alice checkout minutes --out "$WORK/minutes.out" \
  --integrity-cert "$WORK/minutes.cms" >/dev/null || fail "integrity checkout"
openssl cms -verify -binary -inform DER -in "$WORK/minutes.cms" -content "$WORK/minutes.out" \
  -CAfile "$WORK/client/ca.crt" -certfile "$WORK/client/service.crt" -purpose any \
  -out /dev/null 2>"$WORK/cms.log" || { cat "$WORK/cms.log" >&2; fail "openssl cms -verify"; }
belfry --user alice delete plans >/dev/null || fail "delete"
rc=0
belfry --user bob checkout plans --out "$WORK/gone" 2>"$WORK/gone.err" || rc=$?
[ "$rc" -eq 5 ] ||
  { cat "$WORK/gone.err" >&2; fail "checkout after delete exited $rc, not 5 (no such document)"; }
say "3S session: confidential checkin, grant, checkout by another user, integrity certificate," \
  "delete"

# 4. Hardening, inside the running replica containers.
pem_line() { sed -n 2p "$1"; }  # a line of a PEM key's body: unique to that key
ca_line=$(pem_line "$WORK/ca.key")
for k in 0 1 2 3; do
  c=$(container "replica-$k")
  [ "$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$c")" = true ] ||
    fail "replica-$k: root file system is not read-only"
  status=$(podman exec "$c" cat /proc/1/status)
  for field in Uid Gid; do
    echo "$status" | grep -qE "^$field:\s+10001\s+10001\s+10001\s+10001$" ||
      fail "replica-$k: belfry-replica does not run with $field 10001:" \
        "$(echo "$status" | grep "^$field:")"
  done
  for field in CapInh CapPrm CapEff CapBnd CapAmb; do
    echo "$status" | grep -qE "^$field:\s+0+$" ||
      fail "replica-$k: $(echo "$status" | grep "^$field:") (capabilities must all be dropped)"
  done
  echo "$status" | grep -qE '^NoNewPrivs:\s+1$' || fail "replica-$k: no-new-privileges is off"
  out=$(podman exec "$c" sh -c \
    'touch /usr/local/bin/planted 2>&1; touch /etc/belfry/planted 2>&1' || true)
  [ "$(echo "$out" | grep -c 'Read-only file system')" -eq 2 ] ||
    fail "replica-$k: could write its root file system or its key bundle: $out"
  # Every file the replica's user can read, except the kernel's: of the CA key and the four
  # replicas' TLS keys, only its own may be among them (its own is the proof that the
  # search reads key files at all).
  keys=(-e "$ca_line")
  for j in 0 1 2 3; do
    keys+=(-e "$(podman exec "$(container "replica-$j")" \
      sed -n 2p "/etc/belfry/replicas/replica-$j/tls.key")")
  done
  found=$(podman exec "$c" grep -rlsF "${keys[@]}" --exclude-dir=proc --exclude-dir=sys \
    --exclude-dir=dev / || true)
  [ "$found" = "/etc/belfry/replicas/replica-$k/tls.key" ] ||
    fail "replica-$k: the files holding the CA's or a replica's TLS key that it can read are:" \
      "${found:-none}"
  [ "$(podman exec "$c" find / -xdev -name ca.key 2>/dev/null)" = "" ] ||
    fail "replica-$k sees a ca.key"
done
rm -f "$WORK/ca.key"
say "hardening: uid/gid 10001, read-only root and bundle, no capabilities, no-new-privileges," \
  "no foreign keys"

# 5. One replica killed: the others serve; restarted: it catches up.
metric() {  # metric K NAME: replica K's value, from its published metrics port
  curl -sf "http://127.0.0.1:$((7102 + 3 * $1))/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}
docker-compose kill replica-2 >>"$WORK/compose.log" 2>&1 || fail "docker-compose kill replica-2"
[ "$(podman inspect --format '{{.State.Running}}' "$(container replica-2)")" = false ] ||
  fail "replica-2 still runs after docker-compose kill"
for i in 1 2 3; do
  echo "written while replica-2 is down: $i" >"$WORK/down-$i"
  belfry --user alice checkin "down-$i" "$WORK/down-$i" --confidential >/dev/null ||
    fail "checkin with replica-2 killed"
done
belfry --user alice checkout down-3 --out "$WORK/down-3.out" >/dev/null ||
  fail "checkout with replica-2 killed"
cmp -s "$WORK/down-3" "$WORK/down-3.out" ||
  fail "checkout with replica-2 killed returned other bytes"
target=$(metric 0 belfry_next_epoch)
[ -n "$target" ] || fail "replica-0 publishes no belfry_next_epoch"
say "replica-2 killed; 3 checkins and a checkout served; replica-0 at epoch $target"
docker-compose start replica-2 >>"$WORK/compose.log" 2>&1 || fail "docker-compose start replica-2"
deadline=$((SECONDS + CATCHUP_SECONDS_MAX))
until epoch=$(metric 2 belfry_next_epoch) && [ -n "$epoch" ] &&
  [ "${epoch%.*}" -ge "${target%.*}" ] && healthy replica-2; do
  [ "$SECONDS" -lt "$deadline" ] ||
    fail "replica-2 did not catch up to epoch $target and become healthy" \
      "in ${CATCHUP_SECONDS_MAX}s (at ${epoch:-?})"
  sleep 1
done
say "replica-2 restarted, caught up to epoch ${epoch} and healthy"
# With replica-3 stopped, no 2f+1 quorum forms without replica-2.
docker-compose stop replica-3 >>"$WORK/compose.log" 2>&1 || fail "docker-compose stop replica-3"
stop_exit=$(podman inspect --format '{{.State.ExitCode}}' "$(container replica-3)")
[ "$stop_exit" = 0 ] || fail "replica-3 exited $stop_exit on SIGTERM, not 0"
echo "needs replica-2" >"$WORK/quorum"
belfry --user alice checkin quorum "$WORK/quorum" >/dev/null ||
  fail "checkin with replica-3 stopped"
belfry --user alice checkout down-1 --out "$WORK/down-1.out" >/dev/null ||
  fail "checkout with replica-3 stopped"
cmp -s "$WORK/down-1" "$WORK/down-1.out" ||
  fail "checkout with replica-3 stopped returned other bytes"
say "replica-3 stopped (exit 0); replica-0,1,2 serve"

# 6. down -v leaves nothing of the project; then nothing of the test at all.
docker-compose down -v --timeout 30 >>"$WORK/compose.log" 2>&1 || fail "docker-compose down -v"
compose_started=0
left=$( (podman ps -aq --filter "label=$PROJECT_LABEL"
  podman volume ls -q --filter "label=$PROJECT_LABEL"
  podman network ls -q --filter "label=$PROJECT_LABEL") | paste -sd' ' -)
[ -z "$left" ] || fail "docker-compose down -v left: $left"
kill "$service_pid"
wait "$service_pid" 2>/dev/null || true
kill -0 "$service_pid" 2>/dev/null && fail "the podman API service outlived SIGTERM"
service_pid=""
[ ! -e "$socket_dir/podman.sock" ] || fail "the podman API socket is still there"
rm -rf "$socket_dir"
socket_dir=""
for image in "${images_ours[@]}"; do
  podman rmi -f "$image" >/dev/null || fail "podman rmi $image"
done
images_ours=()
snapshot after
extra=$(comm -13 "$WORK/before" "$WORK/after" | paste -sd' ' -)
[ -z "$extra" ] || fail "left behind: $extra"
passed=1
say "down -v: no container, volume, network, image or service of the test is left"
echo "ok: compose e2e in $((SECONDS - START))s"
