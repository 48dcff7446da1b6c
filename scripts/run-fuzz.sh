#!/usr/bin/env bash
# Runs each libFuzzer binary for N seconds on a copy of its seed corpus
# (tests/fuzz/corpus/<name without fuzz_>/) and prints executions per
# target.  A crash fails the run and leaves the reproducer in build/fuzz/.
set -uo pipefail
secs=$1; shift
failed=0; passed=0
mkdir -p build/drills
report=build/drills/fuzz.json
echo "{\"seconds_per_target\": $secs, \"targets\": [" > "$report.tmp"
sep=""
for bin in "$@"; do
  name=$(basename "$bin"); corpus_name=${name#fuzz_}
  seeds=tests/fuzz/corpus/$corpus_name
  work=build/fuzz/corpus/$corpus_name; mkdir -p "$work"
  [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null
  log=build/fuzz/$name.log
  if "$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="build/fuzz/$name-" \
       -rss_limit_mb=2048 -timeout=10 "$work" >"$log" 2>&1; then
    execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "fuzz $name: ${execs:-?} executions in ${secs}s, no crash"; passed=$((passed+1))
    crashed=false
  else
    echo "fuzz $name: CRASH (see $log and build/fuzz/$name-*)"; tail -30 "$log"; failed=$((failed+1))
    execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}'); crashed=true
  fi
  printf '%s{"target": "%s", "executions": %s, "crashed": %s}' "$sep" "$name" "${execs:-0}" "$crashed" >> "$report.tmp"
  sep=", "
done
echo "]}" >> "$report.tmp" && mv "$report.tmp" "$report"
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
