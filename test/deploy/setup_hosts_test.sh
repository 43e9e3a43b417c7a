#!/usr/bin/env bash
# belfry-setup init --hosts: one host per replica, in replica order, into cluster.conf only
# (certificates name replicas by CN, never by host); the exact refusals for a wrong count,
# for --host together with --hosts and for a malformed host, and nothing written then.
# Usage: setup_hosts_test.sh BIN
set -euo pipefail
BIN=$1
WORK=$(mktemp -d /tmp/belfry-deploy-hosts.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

refused() {  # refused "EXPECTED STDERR" ARGS...: init must exit 2 with exactly that line
  local want=$1; shift
  set +e; "$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" --replicas 4 --out "$WORK/refused" "$@" >/dev/null 2>"$WORK/err"; local rc=$?; set -e
  if [ "$rc" -ne 2 ] || [ "$(cat "$WORK/err")" != "$want" ]; then
    echo "FAIL: init $* exited $rc with:" >&2; cat "$WORK/err" >&2; echo "expected: $want" >&2; exit 1
  fi
  if [ -e "$WORK/refused" ]; then
    echo "FAIL: init $* wrote $WORK/refused although it refused" >&2; exit 1
  fi
}
hosts_of() {  # the host of each replica in cluster.conf, comma-separated, in id order
  grep -E '^  host: ' "$1/cluster.conf" | sed -E 's/^  host: "(.*)"$/\1/' | paste -sd, -
}

refused 'belfry-setup: --host and --hosts cannot be combined; --hosts names every replica' \
  --host 127.0.0.1 --hosts a,b,c,d
refused 'belfry-setup: --hosts names 3 hosts for 4 replicas; give exactly one per replica' \
  --hosts replica-0,replica-1,replica-2
refused 'belfry-setup: --hosts names 5 hosts for 4 replicas; give exactly one per replica' \
  --hosts a,b,c,d,e
refused 'belfry-setup: --hosts: "" is not a host name or IP address' --hosts a,,c,d
refused 'belfry-setup: --hosts: "b c" is not a host name or IP address' --hosts a,'b c',c,d
refused 'belfry-setup: --host: "a/b" is not a host name or IP address' --host a/b

# Compose service names, Kubernetes pod DNS names, and the old single-host forms.
k8s=belfry-0-0.belfry,belfry-1-0.belfry.ns.svc.cluster.local,10.0.0.3,fd00::4
"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" --replicas 4 --out "$WORK/k8s" --hosts "$k8s" >/dev/null
[ "$(hosts_of "$WORK/k8s")" = "$k8s" ] || { echo "FAIL: hosts $(hosts_of "$WORK/k8s") != $k8s" >&2; exit 1; }
"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" --replicas 4 --out "$WORK/one" --host 10.1.2.3 >/dev/null
[ "$(hosts_of "$WORK/one")" = "10.1.2.3,10.1.2.3,10.1.2.3,10.1.2.3" ] || { echo "FAIL: --host" >&2; exit 1; }
"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" --replicas 4 --out "$WORK/default" >/dev/null
[ "$(hosts_of "$WORK/default")" = "127.0.0.1,127.0.0.1,127.0.0.1,127.0.0.1" ] || { echo "FAIL: default host" >&2; exit 1; }

# Peers check the CN and role, not the host, so a certificate carries no host name.
for k in 0 1 2 3; do
  cert="$WORK/k8s/replicas/replica-$k/tls.crt"
  if openssl x509 -in "$cert" -noout -text | grep -q 'Subject Alternative Name'; then
    echo "FAIL: $cert carries a subjectAltName" >&2; exit 1
  fi
  openssl x509 -in "$cert" -noout -subject | grep -q "CN *= *replica-$k\b" || {
    echo "FAIL: $cert does not name replica-$k" >&2; exit 1; }
done
echo "ok: --hosts"
