#!/usr/bin/env bash
# Runs every unit-test binary given, prints each one's cmocka summary and a
# final "N passed, N failed" line; exits non-zero if any binary failed.
set -uo pipefail
dir=$1; shift
passed=0; failed=0
for t in "$@"; do
  if out=$("$dir/$t" 2>&1); then
    passed=$((passed+1)); echo "PASS $t"
  else
    failed=$((failed+1)); echo "FAIL $t"; echo "$out" | tail -40
  fi
  echo "$out" | grep -E '^\[  (PASSED|FAILED)  \]' | sed "s|^|    $t: |"
done
echo "unit: $passed passed, $failed failed"
[ $failed -eq 0 ]
