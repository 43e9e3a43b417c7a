#!/usr/bin/env bash
# RFC 3161 time-stamps through consensus, end to end with real processes: a 4-replica
# cluster, `belfry stamp`, and the `belfry-tsa` HTTP gateway driven by stock clients
# (openssl ts, curl). Every token is checked by `openssl ts -verify` with ca.crt and
# service.crt alone. Usage: stamp_e2e.sh BIN BASE_PORT
set -euo pipefail
BIN=$1
BASE_PORT=$2
WORK=$(mktemp -d /tmp/belfry-stamp-e2e.XXXXXX)
export BELFRY_HOME="$WORK/home" BELFRY_CLUSTER="$WORK/cluster/cluster.conf"
TSA_PID=""
cleanup() {
  if [ -n "$TSA_PID" ]; then kill "$TSA_PID" 2>/dev/null || true; wait "$TSA_PID" 2>/dev/null || true; fi
  "$BIN/belfry-cluster" down --dir "$WORK/cluster" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=wait_lib.sh
. "$(dirname "$0")/wait_lib.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }
expect() {  # expect CODE command...: the command must exit with CODE
  local want=$1; shift
  set +e; "$@" >"$WORK/out" 2>"$WORK/err"; local rc=$?; set -e
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL: '$*' exited $rc, expected $want" >&2; cat "$WORK/err" "$WORK/out" >&2; exit 1
  fi
}
C="$WORK/cluster"
ts_verify_data() {  # ts_verify_data DATA RESPONSE
  openssl ts -verify -data "$1" -in "$2" -CAfile "$C/ca.crt" -untrusted "$C/service.crt"
}
serial_of() { openssl ts -reply -in "$1" -text 2>/dev/null | sed -n 's/^Serial number: //p'; }
# genTime as milliseconds since the epoch ("Time stamp: Dec  7 23:10:54.123 2026 GMT").
gentime_ms_of() {
  local line frac
  line=$(openssl ts -reply -in "$1" -text 2>/dev/null | sed -n 's/^Time stamp: //p')
  frac=$(printf '%s' "$line" | sed -n 's/.*:[0-9][0-9]\.\([0-9]*\) .*/\1/p')
  frac=$(printf '%-3s' "${frac:-0}" | tr ' ' 0)
  echo $(( $(date -u -d "$(printf '%s' "$line" | sed 's/\.[0-9]*//; s/ GMT$//')" +%s) * 1000 + 10#${frac:0:3} ))
}

"$BIN/belfry-setup" init --insecure-service-key-primes "$BIN/test-service-key-primes.txt" --replicas 4 \
  --out "$C" --users alice,tsa --base-port "$BASE_PORT" >/dev/null
"$BIN/belfry-cluster" up --dir "$C" >/dev/null
expect 0 "$BIN/belfry" login alice --key "$C/users/alice/alice.key"

# 1. belfry stamp: only the hash leaves; the response verifies with stock openssl, for
#    this data only.
echo "the minutes of the meeting" > "$WORK/minutes"
expect 0 "$BIN/belfry" stamp "$WORK/minutes"
grep -q "serial 0x" "$WORK/out" || fail "belfry stamp printed no serial: $(cat "$WORK/out")"
[ -s "$WORK/minutes.tsr" ] || fail "belfry stamp wrote no minutes.tsr"
expect 0 ts_verify_data "$WORK/minutes" "$WORK/minutes.tsr"
echo "other minutes" > "$WORK/forged"
expect 1 ts_verify_data "$WORK/forged" "$WORK/minutes.tsr"
openssl ts -reply -in "$WORK/minutes.tsr" -text 2>/dev/null | grep -q "^Status: Granted" || fail "not granted"

# 2. Two stamps: distinct serial numbers, genTime never going back.
echo "second file" > "$WORK/second"
expect 0 "$BIN/belfry" stamp "$WORK/second" --out "$WORK/second.response"
expect 0 ts_verify_data "$WORK/second" "$WORK/second.response"
s1=$(serial_of "$WORK/minutes.tsr"); s2=$(serial_of "$WORK/second.response")
[ -n "$s1" ] && [ -n "$s2" ] && [ "$s1" != "$s2" ] || fail "serial numbers '$s1' and '$s2' are not distinct"
t1=$(gentime_ms_of "$WORK/minutes.tsr"); t2=$(gentime_ms_of "$WORK/second.response")
[ "$t2" -ge "$t1" ] || fail "genTime went back: $t1 then $t2"

# 3. The gateway: stock openssl query, curl, stock verify against the query.
"$BIN/belfry-tsa" --cluster "$C/cluster.conf" --key "$C/users/tsa/tsa.key" --listen 127.0.0.1:0 \
  >"$WORK/tsa.out" 2>"$WORK/tsa.err" &
TSA_PID=$!
tsa_ready() { grep -q "^listening on " "$WORK/tsa.out" || { kill -0 "$TSA_PID" 2>/dev/null || return 2; return 1; }; }
until_true --what "belfry-tsa listening" tsa_ready || { cat "$WORK/tsa.err" >&2; fail "belfry-tsa did not start"; }
TSA_PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/tsa.out")
[ -n "$TSA_PORT" ] || fail "no port in: $(cat "$WORK/tsa.out")"
post() {  # post QUERY RESPONSE
  curl -s --max-time 60 -H 'Content-Type: application/timestamp-query' --data-binary @"$1" \
    "http://127.0.0.1:$TSA_PORT/" -o "$2"
}
openssl ts -query -data "$WORK/minutes" -sha256 -cert -out "$WORK/q.tsq" 2>/dev/null
expect 0 post "$WORK/q.tsq" "$WORK/r.tsr"
expect 0 openssl ts -verify -queryfile "$WORK/q.tsq" -in "$WORK/r.tsr" -CAfile "$C/ca.crt" -untrusted "$C/service.crt"
expect 0 ts_verify_data "$WORK/minutes" "$WORK/r.tsr"
s3=$(serial_of "$WORK/r.tsr")
[ "$s3" != "$s1" ] && [ "$s3" != "$s2" ] || fail "the gateway's serial $s3 repeats an earlier one"
# SHA-384 and SHA-512 go through too; SHA-1 is refused with a rejection (badAlg).
openssl ts -query -data "$WORK/second" -sha512 -cert -out "$WORK/q512.tsq" 2>/dev/null
expect 0 post "$WORK/q512.tsq" "$WORK/r512.tsr"
expect 0 openssl ts -verify -queryfile "$WORK/q512.tsq" -in "$WORK/r512.tsr" -CAfile "$C/ca.crt" \
  -untrusted "$C/service.crt"
openssl ts -query -data "$WORK/minutes" -sha1 -cert -out "$WORK/q1.tsq" 2>/dev/null
expect 0 post "$WORK/q1.tsq" "$WORK/r1.tsr"
openssl ts -reply -in "$WORK/r1.tsr" -text >"$WORK/r1.txt" 2>/dev/null
grep -q "^Status: Rejected" "$WORK/r1.txt" || fail "a SHA-1 query was not rejected: $(cat "$WORK/r1.txt")"
grep -qi "algorithm" "$WORK/r1.txt" || fail "the SHA-1 rejection names no bad algorithm: $(cat "$WORK/r1.txt")"
expect 1 openssl ts -verify -queryfile "$WORK/q1.tsq" -in "$WORK/r1.tsr" -CAfile "$C/ca.crt" \
  -untrusted "$C/service.crt"

# 4. One replica down (f = 1): stamping still works, by the CLI and through the gateway.
"$BIN/belfry-cluster" down --dir "$C" --replicas 3 >/dev/null
echo "written while a replica was down" > "$WORK/third"
expect 0 "$BIN/belfry" stamp "$WORK/third"
expect 0 ts_verify_data "$WORK/third" "$WORK/third.tsr"
t3=$(gentime_ms_of "$WORK/third.tsr")
[ "$t3" -ge "$t2" ] || fail "genTime went back: $t2 then $t3"
openssl ts -query -data "$WORK/third" -sha384 -cert -out "$WORK/q3.tsq" 2>/dev/null
expect 0 post "$WORK/q3.tsq" "$WORK/r3.tsr"
expect 0 openssl ts -verify -queryfile "$WORK/q3.tsq" -in "$WORK/r3.tsr" -CAfile "$C/ca.crt" \
  -untrusted "$C/service.crt"

# 5. The gateway stops cleanly on SIGTERM.
kill -TERM "$TSA_PID"
tsa_gone() { ! kill -0 "$TSA_PID" 2>/dev/null; }
until_true --what "belfry-tsa exiting" tsa_gone || fail "belfry-tsa ignored SIGTERM"
set +e; wait "$TSA_PID"; rc=$?; set -e
TSA_PID=""
[ "$rc" -eq 0 ] || { cat "$WORK/tsa.err" >&2; fail "belfry-tsa exited $rc on SIGTERM"; }
grep -q "event=stop" "$WORK/tsa.err" || fail "belfry-tsa logged no stop line"

# 6. A Byzantine replica 0 (belfry-replica-byzantine, bad-shares) sends a well-formed
# signature share that is not a share of the token's signature, among the first f+1 the
# client combines: the combination fails its check, the proofs name replica 0, and the
# token made from the others is still right. Replica 3 is back, so three correct ones serve.
"$BIN/belfry-cluster" down --dir "$C" --replicas 0 >/dev/null
"$BIN/belfry-cluster" up --dir "$C" --replicas 3 >/dev/null
"$BIN/belfry-replica-byzantine" --config "$C/cluster.conf" --id 0 --data "$C/data/replica-0" \
  --byzantine bad-shares > "$C/logs/replica-0-byzantine.log" 2>&1 &
BYZ_PID=$!
trap 'kill "$BYZ_PID" 2>/dev/null || true; wait "$BYZ_PID" 2>/dev/null || true; cleanup' EXIT
echo "stamped while replica 0 lies" > "$WORK/fourth"
blamed=0
# Whether replica 0's reply is among the 2f+1 agreeing ones depends on timing; each try
# is one stamp, bounded in number.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  expect 0 "$BIN/belfry" stamp "$WORK/fourth" --out "$WORK/fourth-$attempt.tsr"
  cp "$WORK/err" "$WORK/fourth-$attempt.err"
  expect 0 ts_verify_data "$WORK/fourth" "$WORK/fourth-$attempt.tsr"
  if grep -q "replica 0 sent an invalid service signature share" "$WORK/fourth-$attempt.err"; then
    blamed=1
    break
  fi
done
[ "$blamed" = 1 ] || fail "ten stamps with replica 0 in bad-shares never named it"
expect 0 ts_verify_data "$WORK/fourth" "$WORK/fourth-$attempt.tsr"
expect 1 ts_verify_data "$WORK/third" "$WORK/fourth-$attempt.tsr"

echo "stamp_e2e: all checks passed"
