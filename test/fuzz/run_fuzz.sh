#!/usr/bin/env bash
# Runs every fuzz target (or those named) under libFuzzer for FUZZ_SECONDS each, on a copy
# of the committed corpus. New interesting inputs stay in BUILD/corpus/<name>; crashes go
# to BUILD/crashes/<name>/ and make the script fail. A one-line summary per target (final
# execs/s, cov, ft, corpus size) is appended to BUILD/fuzz-summary.txt.
#
#   test/fuzz/run_fuzz.sh BUILD_DIR [TARGET...]
set -uo pipefail

build=${1:?usage: run_fuzz.sh BUILD_DIR [TARGET...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
seconds=${FUZZ_SECONDS:-60}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(frame client_frame peer_message aba_message rbc_message coin_share tdh2 reply_quorum
           integrity_cert cluster_config key_file document_name session_file timestamp_req)
fi

summary="$build/fuzz-summary.txt"
: > "$summary"
failed=()
for name in "${targets[@]}"; do
  bin="$build/test/fuzz/fuzz_$name"
  corpus="$build/corpus/$name"
  crashes="$build/crashes/$name"
  log="$build/logs/$name.log"
  mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
  cp -n "$here/corpus/$name/"* "$corpus/" 2>/dev/null || true
  echo "fuzz: $name for ${seconds}s (log $log)" >&2
  "$bin" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
  execs=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}')
  printf '%-16s rc=%d execs/s=%s %s corpus_files=%s\n' "$name" "$rc" "${execs:-?}" \
    "${done_line:-(no DONE line)}" "$(ls "$corpus" | wc -l)" | tee -a "$summary" >&2
  if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$crashes")" ]; then
    failed+=("$name")
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: findings in: ${failed[*]} (inputs under $build/crashes/)" >&2
  exit 1
fi
echo "fuzz: no findings; summary in $summary" >&2
