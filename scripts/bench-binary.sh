#!/usr/bin/env bash
# The binary protocol against HTTP/JSON on the same node, in one run
# (docs/binary.md, "Measured"): starts `quipu node` with the ledger's
# binary listener in a temporary home, then runs `quipu client load` over
# HTTP/JSON and `quipu client --binary ... load` in PAIRS alternating pairs
# (the order flips every pair), batches of BATCH, CONNECTIONS connections,
# DURATION seconds each.  Prints one RESULT line per run, the per-pair
# ratios, the medians and the ratio of the medians.
#   usage: scripts/bench-binary.sh [QUIPU_BIN]   env: PAIRS DURATION CONNECTIONS BATCH
set -euo pipefail
Q=${1:-build/quipu}
PAIRS=${PAIRS:-5}; DURATION=${DURATION:-5}; CONNECTIONS=${CONNECTIONS:-2}; BATCH=${BATCH:-8190}
home=$(mktemp -d /tmp/quipu-bench-binary.XXXXXX)
echo '{"listen":"127.0.0.1:0","modules":{"ledger":{"binary_listen":"127.0.0.1:0"}}}' > "$home/node.json"
key=$("$Q" keys create --data "$home" --name bench --scope ledger:read,ledger:write 2>/dev/null)
"$Q" node --home "$home" > "$home/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$home"' EXIT
for _ in $(seq 100); do
  grep -q "node: listening on" "$home/log" && break; sleep 0.1
done
http=$(grep -o 'listening on http://[0-9.:]*' "$home/log" | head -1 | sed 's/listening on //')
bin=$(grep -o 'binary protocol listening on [0-9.:]*' "$home/log" | head -1 | awk '{print $NF}')
echo "node: $http, binary $bin; pairs $PAIRS, ${DURATION}s each, batch $BATCH, $CONNECTIONS connections"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores), $(date -u +%FT%TZ)"
run() { # $1 = http|binary; prints transfers/s
  local out
  if [ "$1" = http ]; then
    out=$(QUIPU_KEY=$key "$Q" client --url "$http" load --batch "$BATCH" \
          --connections "$CONNECTIONS" --duration "$DURATION")
  else
    out=$(QUIPU_KEY=$key "$Q" client --binary "$bin" load --batch "$BATCH" \
          --connections "$CONNECTIONS" --duration "$DURATION")
  fi
  echo "$out" | grep -q 'failed 0' || { echo "$out" >&2; echo 0; return; }
  echo "$out" | sed -n 's/^transfers: .*(\([0-9]*\)\/s)$/\1/p'
}
h_all=(); b_all=()
for i in $(seq "$PAIRS"); do
  if [ $((i % 2)) -eq 1 ]; then h=$(run http); b=$(run binary); else b=$(run binary); h=$(run http); fi
  h_all+=("$h"); b_all+=("$b")
  echo "RESULT pair${i}_http_json_transfers_per_s $h transfers/s"
  echo "RESULT pair${i}_binary_transfers_per_s $b transfers/s"
  awk -v b="$b" -v h="$h" -v i="$i" 'BEGIN { printf "pair %d: binary / http = %.2f\n", i, h ? b / h : 0 }'
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
hm=$(median "${h_all[@]}"); bm=$(median "${b_all[@]}")
echo "RESULT http_json_transfers_per_s_median $hm transfers/s"
echo "RESULT binary_transfers_per_s_median $bm transfers/s"
awk -v b="$bm" -v h="$hm" 'BEGIN { printf "RESULT binary_over_http_ratio %.2f x\n", h ? b / h : 0 }'
