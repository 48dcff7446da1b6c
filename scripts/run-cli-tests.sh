#!/usr/bin/env bash
# CLI tests against the real binary: the ledger demo, verify on an intact
# journal, verify after damage (a flipped byte anywhere, a truncated
# record), recovery of a torn tail at the next open, idempotent re-runs, the
# data directory lock, and backup/restore (exit codes, refusals).  Prints
# "cli: N passed, N failed".
set -uo pipefail
Q=$(realpath "$1")
T=$(mktemp -d /tmp/quipu-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0; failed=0
check() { # name, then a command that must succeed
  local name=$1; shift
  if "$@" >"$T/out" 2>&1; then passed=$((passed+1)); echo "ok   $name"
  else failed=$((failed+1)); echo "FAIL $name"; sed 's/^/     /' "$T/out" | tail -20; fi
}
flip() { # file offset: xor one byte with 0x01
  local b; b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $(( b ^ 1 )))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

D=$T/data
check "ledger demo runs"              bash -c "'$Q' ledger demo --data '$D' | grep -q 'invariant holds'"
check "demo shows the failed chain"   bash -c "'$Q' ledger demo --data '$T/d2' | grep -q linked_event_failed"
check "demo re-run is idempotent"     bash -c "'$Q' ledger demo --data '$D' | grep -q '=> exists'"
check "verify passes on intact data"  bash -c "'$Q' verify --data '$D' | grep -q 'result:    OK'"
check "verify prints per-ledger totals" bash -c "'$Q' verify --data '$D' | grep -q 'ledger 840: 4 accounts; debits_posted 12900 = credits_posted 12900'"
check "QUIPU_DATA is honoured"        bash -c "QUIPU_DATA='$D' '$Q' verify | grep -q 'result:    OK'"

# Another process holds the data directory's lock, as a running server does:
# verify refuses (exit 3) rather than compare an index being written; --live runs.
flock -o "$D/quipu.lock" sleep 60 & holder=$!
for _ in $(seq 50); do flock -n "$D/quipu.lock" true 2>/dev/null || break; sleep 0.1; done
"$Q" verify --data "$D" >"$T/locked" 2>&1; rc=$?
check "verify refuses a locked directory (exit 3)" bash -c "test $rc -eq 3 && grep -q 'holds $D; stop it first, or run .quipu verify --live.' '$T/locked' && ! grep -q -e DIFFERS -e FAILED '$T/locked'"
check "verify --live runs beside the holder" bash -c "'$Q' verify --live --data '$D' | grep -q 'index:     not compared (live)'"
kill $holder; wait $holder 2>/dev/null
check "verify --help lists exit code 3"  bash -c "'$Q' verify --help | grep -q '3 when another process'"
check "verify holds the lock, offline"  bash -c "'$Q' verify --data '$D' | grep -q 'mode:      offline'"
"$Q" keys create --data "$T/k/data" --name a --scope admin >/dev/null 2>&1
check "new directories are 0700"      bash -c "test \"\$(stat -c %a '$D' '$D/ledger' '$D/ledger/state' '$T/k' '$T/k/data' '$T/k/data/keys' | sort -u)\" = 700"

size=$(stat -c %s "$D/ledger/journal")
bad=0
for off in 0 17 50 81 90 100 130 300 $((size/2)) $((size-1)); do
  cp -r "$D" "$T/flip"; flip "$T/flip/ledger/journal" "$off"
  if "$Q" verify --data "$T/flip" >/dev/null 2>&1; then bad=$((bad+1)); echo "     flip at $off not detected"; fi
  rm -rf "$T/flip"
done
check "verify catches flipped bytes (exit 1)" test $bad -eq 0
cp -r "$D" "$T/flip"; flip "$T/flip/ledger/journal" 300
check "verify names the bad record's offset" bash -c "'$Q' verify --data '$T/flip' 2>&1 | grep -q 'record 1 at offset 0'"
check "open refuses corrupt history"  bash -c "! '$Q' ledger demo --data '$T/flip' 2>/dev/null"
rm -rf "$T/flip"

cp -r "$D" "$T/torn"; head -c 77 "$D/ledger/journal" >> "$T/torn/ledger/journal"
check "verify reports a torn tail"    bash -c "! '$Q' verify --data '$T/torn' >/dev/null 2>&1"
check "open truncates a torn tail"    bash -c "'$Q' ledger demo --data '$T/torn' 2>&1 | grep -q 'truncating 77 bytes'"
check "verify passes after recovery"  bash -c "'$Q' verify --data '$T/torn' | grep -q 'result:    OK'"

# Backup and restore: a copy of $D restores into a new directory that verify
# passes; usage errors exit 2; an existing archive, a non-empty directory and
# a damaged archive exit 1 and write nothing.
check "backup writes an archive (0600)" bash -c "'$Q' backup --data '$D' --out '$T/b.qpb' | grep -q 'journal up to record' && test \$(stat -c %a '$T/b.qpb') = 600"
check "backup refuses to overwrite (exit 1)" bash -c "'$Q' backup --data '$D' --out '$T/b.qpb' 2>&1 >/dev/null | grep -q 'refusing to overwrite' && test \${PIPESTATUS[0]} -eq 1"
check "backup --force overwrites"     "$Q" backup --data "$D" --out "$T/b.qpb" --force
check "restore into a new directory"  bash -c "'$Q' restore --in '$T/b.qpb' --data '$T/restored' | grep -q 'index rebuilt'"
check "verify passes on the restore"  bash -c "'$Q' verify --data '$T/restored' | grep -q 'result:    OK'"
check "restore refuses a non-empty dir (exit 1)" bash -c "'$Q' restore --in '$T/b.qpb' --data '$T/restored' 2>&1 | grep -q 'is not empty' && test \${PIPESTATUS[0]} -eq 1"
cp "$T/b.qpb" "$T/bad.qpb"; flip "$T/bad.qpb" 200
check "restore refuses a flipped byte, writes nothing" bash -c "'$Q' restore --in '$T/bad.qpb' --data '$T/r2' 2>&1 | grep -q 'nothing was written' && test \${PIPESTATUS[0]} -eq 1 && test ! -e '$T/r2'"
check "backup/restore usage errors exit 2" bash -c "'$Q' backup --data '$D' >/dev/null 2>&1; a=\$?; '$Q' restore >/dev/null 2>&1; b=\$?; test \$a\$b = 22"

check "bench ledger runs (small)"     bash -c "'$Q' bench ledger --accounts 1000 --transfers 20000 --batch 1000 | grep -q 'RESULT inprocess_durable_transfers_per_s'"
mkdir -p "$T/drills"; echo '{"kills": 5, "losses": 0, "invariant_violations": 0}' > "$T/drills/torture.json"
check "drill report prints the numbers" bash -c "'$Q' drill report --dir '$T/drills' | grep -q 'kills *5'"
echo '{"kills": 5, "losses": 1}' > "$T/drills/torture.json"
check "drill report fails on a loss"  bash -c "! '$Q' drill report --dir '$T/drills' >/dev/null"
# quipu chain send|query|up: usage errors exit 2 and say what is wrong before
# any request (a missing flag, --args not a JSON object or with a repeated key,
# a bad --nonce/--timeout, an unknown option); a node nobody answers on is exit
# 2 for send (nothing submitted) and 1 for query; up on a directory without
# nodes is 1.  (tests/e2e/test_chain.py runs them against a real network.)
exit_is() { # code, then a command: it must exit with that code
  local want=$1; shift
  "$@" >"$T/chain.out" 2>&1; local got=$?
  [ "$got" -eq "$want" ] || { echo "exit $got, want $want"; cat "$T/chain.out"; return 1; }
}
S=("$Q" chain send --node http://127.0.0.1:1 --key "$T/client.key" --app kv --method put)
"$Q" chain keygen --out "$T/client.key" >/dev/null 2>&1
check "chain: no subcommand exits 2"       exit_is 2 "$Q" chain
check "chain: unknown subcommand exits 2"  exit_is 2 "$Q" chain nonsense
check "chain send: missing --key exits 2"  exit_is 2 "$Q" chain send --node http://x --app kv --method put
check "chain send: --args array exits 2"   bash -c "'$Q' chain send --node http://x --key k --app kv --method put --args '[1]' 2>&1 | grep -q 'must be a JSON object'; test \${PIPESTATUS[0]} -eq 2"
check "chain send: --args bad JSON exits 2" bash -c "'$Q' chain send --node http://x --key k --app kv --method put --args '{\"a\":1,\"a\":2}' 2>&1 | grep -q 'duplicate object key'; test \${PIPESTATUS[0]} -eq 2"
check "chain send: --nonce 0 exits 2"      exit_is 2 "${S[@]}" --nonce 0
check "chain send: --timeout x exits 2"    exit_is 2 "${S[@]}" --timeout x
check "chain send: unknown option exits 2" exit_is 2 "${S[@]}" --bogus
check "chain send: not a URL exits 2"      exit_is 2 "$Q" chain send --node 127.0.0.1:1 --key "$T/client.key" --app kv --method put
check "chain send: unreachable node exits 2" exit_is 2 "${S[@]}"
check "chain send: missing key file exits 2" bash -c "'$Q' chain send --node http://127.0.0.1:1 --key '$T/none.key' --app kv --method put 2>&1 | grep -q none.key; test \${PIPESTATUS[0]} -eq 2"
check "chain query: missing --app exits 2" exit_is 2 "$Q" chain query --node http://x --method get
check "chain query: --args string exits 2" exit_is 2 "$Q" chain query --node http://x --app kv --method get --args '"k"'
check "chain query: unreachable node exits 1" exit_is 1 "$Q" chain query --node http://127.0.0.1:1 --app kv --method get --args '{"key":"k"}'
check "chain up: missing --dir exits 2"    exit_is 2 "$Q" chain up
check "chain up: no nodes in DIR exits 1"  bash -c "'$Q' chain up --dir '$T' 2>&1 | grep -q 'quipu chain init'; test \${PIPESTATUS[0]} -eq 1"
# The GM/T suite: --crypto sm2 on init and keygen (--suite is a synonym), a bad
# --crypto exits 2 naming the flag and the allowed values, and `chain send`
# with an ed25519 key to a running sm2 node exits 2 naming both suites.
# (The base port is drawn below the ephemeral range, 32768+: no outgoing connection holds it.)
G=$T/sm2net
check "chain init --crypto sm2: an sm2 genesis and keys" bash -c "'$Q' chain init --validators 1 --crypto sm2 --dir '$G' --base-port \$((20000 + 2 * (RANDOM % 6000))) | grep -q 'suite sm2' && grep -q '\"suite\": *\"sm2\"' '$G/node0/genesis.json' && grep -q '\"suite\":\"sm2\"' '$G/node0/keys/validator.key'"
check "chain keygen --crypto sm2 (and --suite sm2)" bash -c "'$Q' chain keygen --crypto sm2 --out '$T/sm2.key' | grep -qE '^04[0-9a-f]{128}\$' && grep -q '\"suite\":\"sm2\"' '$T/sm2.key' && '$Q' chain keygen --suite sm2 --out '$T/sm2b.key' >/dev/null 2>&1 && grep -q '\"suite\":\"sm2\"' '$T/sm2b.key'"
check "chain init: bad --crypto exits 2" bash -c "'$Q' chain init --validators 1 --crypto sm3 --dir '$T/bad' 2>&1 | grep -q \"crypto must be ed25519 or sm2, not 'sm3'\"; test \${PIPESTATUS[0]} -eq 2 && test ! -e '$T/bad'"
check "chain keygen: bad --crypto exits 2" bash -c "'$Q' chain keygen --crypto rsa --out '$T/bad.key' 2>&1 | grep -q \"crypto must be ed25519 or sm2, not 'rsa'\"; test \${PIPESTATUS[0]} -eq 2 && test ! -e '$T/bad.key'"
port=$(sed -n 's/.*"listen": "127.0.0.1:\([0-9]*\)".*/\1/p' "$G/node0/node.json")
"$Q" node --home "$G/node0" >"$T/sm2node.log" 2>&1 & sm2node=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
check "chain send: an ed25519 key to an sm2 network exits 2" bash -c "'$Q' chain send --node http://127.0.0.1:$port --key '$T/client.key' --app kv --method put --args '{\"key\":\"k\",\"value\":\"v\"}' 2>&1 | grep -q \"is a ed25519 key but the network's suite is sm2\"; test \${PIPESTATUS[0]} -eq 2"
check "chain send: an sm2 key to the sm2 network commits" bash -c "'$Q' chain send --node http://127.0.0.1:$port --key '$T/sm2.key' --app kv --method put --args '{\"key\":\"k\",\"value\":\"v\"}' --wait | grep -q '\"status\":\"ok\"'"
check "chain query: the sm2 network answers" bash -c "'$Q' chain query --node http://127.0.0.1:$port --app kv --method get --args '{\"key\":\"k\"}' | grep -q '\"value\":\"v\"'"
check "chain verify-proof: a proof from the sm2 network is valid" bash -c "curl -sf 'http://127.0.0.1:$port/v1/chain/kv/k?proof=1' > '$T/proof.json' && '$Q' chain verify-proof --genesis '$G/node0/genesis.json' '$T/proof.json' | grep -q '^valid: kv key \"k\" = \"v\"'"
check "chain verify-proof: a changed value exits 1 naming the step" bash -c "python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); p=a[\"proof\"]; p[\"value\"]=p[\"value\"][:-2]+\"77\"; json.dump(a,open(sys.argv[2],\"w\"))' '$T/proof.json' '$T/bad-proof.json'; '$Q' chain verify-proof --genesis '$G/node0' '$T/bad-proof.json' | grep -q '^invalid: smt: '; test \${PIPESTATUS[0]} -eq 1"
kill $sm2node; wait $sm2node 2>/dev/null
check "chain verify-proof: no --genesis exits 2" exit_is 2 "$Q" chain verify-proof "$T/proof.json"
check "chain verify-proof: not a proof exits 1" bash -c "echo '{}' > '$T/empty.json'; '$Q' chain verify-proof --genesis '$G/node0' '$T/empty.json' | grep -q '^invalid: format'; test \${PIPESTATUS[0]} -eq 1"
check "chain verify-proof: an unreadable genesis exits 2" exit_is 2 "$Q" chain verify-proof --genesis "$T/nowhere.json" "$T/proof.json"
check "chain --help lists send, query, up" bash -c "'$Q' chain --help | grep -q 'chain send' && '$Q' chain --help | grep -q 'chain query' && '$Q' chain --help | grep -q 'chain up'"
# quipu chain deploy / send --contract (Lua contracts): argument errors exit 2
# with a message naming what is wrong, before anything is signed or sent.
A=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
C=("$Q" chain send --node http://127.0.0.1:1 --key "$T/client.key" --contract "$A" --method inc)
printf 'function inc(\n' > "$T/bad.lua"
printf 'function inc() return 1 end\n' > "$T/ok.lua"
printf 'return "\377"\n' > "$T/latin1.lua"
check "chain deploy: missing --code exits 2" exit_is 2 "$Q" chain deploy --node http://x --key "$T/client.key"
check "chain deploy: bad code names Lua's line" bash -c "'$Q' chain deploy --node http://127.0.0.1:1 --key '$T/client.key' --code '$T/bad.lua' 2>&1 | grep -q 'does not compile: contract:2:'; test \${PIPESTATUS[0]} -eq 2"
check "chain deploy: missing file exits 2"  bash -c "'$Q' chain deploy --node http://127.0.0.1:1 --key '$T/client.key' --code '$T/none.lua' 2>&1 | grep -q 'cannot open --code'; test \${PIPESTATUS[0]} -eq 2"
check "chain deploy: empty file exits 2"    bash -c ": > '$T/empty.lua'; '$Q' chain deploy --node http://127.0.0.1:1 --key '$T/client.key' --code '$T/empty.lua' 2>&1 | grep -q 'is empty'; test \${PIPESTATUS[0]} -eq 2"
check "chain deploy: not UTF-8 exits 2"     bash -c "'$Q' chain deploy --node http://127.0.0.1:1 --key '$T/client.key' --code '$T/latin1.lua' 2>&1 | grep -q 'not UTF-8'; test \${PIPESTATUS[0]} -eq 2"
check "chain deploy: unreachable node exits 2" exit_is 2 "$Q" chain deploy --node http://127.0.0.1:1 --key "$T/client.key" --code "$T/ok.lua"
check "chain send --contract: bad address"  bash -c "'$Q' chain send --node http://x --key k --contract xyz --method inc 2>&1 | grep -q '64 hex digits'; test \${PIPESTATUS[0]} -eq 2"
check "chain send --contract: --args not JSON" bash -c "$(printf '%q ' "${C[@]}") --args '{x' 2>&1 | grep -q 'args: not JSON'; test \${PIPESTATUS[0]} -eq 2"
check "chain send --contract: --args real"  bash -c "$(printf '%q ' "${C[@]}") --args '{\"n\":1.5}' 2>&1 | grep -q 'real number'; test \${PIPESTATUS[0]} -eq 2"
check "chain send --contract: --gas 0"      bash -c "$(printf '%q ' "${C[@]}") --gas 0 2>&1 | grep -q -- '--gas must be an integer from 1 to 10000000'; test \${PIPESTATUS[0]} -eq 2"
check "chain send --contract: --gas too big" exit_is 2 "${C[@]}" --gas 10000001
check "chain send --contract: with --app"   exit_is 2 "${C[@]}" --app kv
check "chain send: --gas without --contract" exit_is 2 "${S[@]}" --gas 5
check "chain send --contract: unreachable"  exit_is 2 "${C[@]}" --args '{"by":2}'
check "chain --help lists deploy"           bash -c "'$Q' chain --help | grep -q 'chain deploy'"
# The risk engine offline (docs/risk.md): check reports line:column, replay is byte-identical.
cat > "$T/risk.rules" <<'RULES'
list bad_ips cidr
feature tx_1h = count by payer over 1h
feature spent = sum(amount) by payer over 24h
rule velocity: tx_1h > 2 => challenge score 20 "many payments"
rule big: amount >= 1000000 and spent > 1500000 => review score 30
rule bad_ip: ip in bad_ips => block "blocked network"
threshold score >= 50 => block
RULES
printf 'rule r: amount >= => block\nfeature f = count by p over 90s\n' > "$T/risk-bad.rules"
for i in 1 2 3 4 5; do printf '{"id":"e%d","time":%d,"payer":"ann","amount":"%d","ip":"10.0.0.%d"}\n' $i $((100+i)) $((i*500000)) $i; done > "$T/risk.jsonl"
printf 'not json\n{"id":"x"}\n' >> "$T/risk.jsonl"
printf '10.0.0.4/32\n' > "$T/risk-ips.txt"
R=("$Q" risk replay --ruleset "$T/risk.rules" --events "$T/risk.jsonl" --list "bad_ips=$T/risk-ips.txt")
check "risk check: ok with sizes"           bash -c "'$Q' risk check '$T/risk.rules' | grep -q 'ok, 3 rules, 2 features, ruleset '"
check "risk check: errors name line:column" bash -c "'$Q' risk check '$T/risk-bad.rules' 2>&1 | grep -q 'risk-bad.rules:1:19: expected a value' && '$Q' risk check '$T/risk-bad.rules' 2>&1 | grep -q 'risk-bad.rules:2:29: expected a window that is a multiple of 60 s'"
check "risk check: errors exit 1"           exit_is 1 "$Q" risk check "$T/risk-bad.rules"
check "risk check: missing file exits 1"    exit_is 1 "$Q" risk check "$T/none.rules"
check "risk: no subcommand exits 2"         exit_is 2 "$Q" risk
check "risk replay: without --events exits 2" exit_is 2 "$Q" risk replay --ruleset "$T/risk.rules"
check "risk replay: counts"                 bash -c "$(printf '%q ' "${R[@]}") --out '$T/r1.jsonl' > '$T/r1.txt' && grep -q 'events: 5 decided, 2 refused' '$T/r1.txt' && grep -q 'rule velocity: 3 fired' '$T/r1.txt' && grep -q 'decision block: ' '$T/r1.txt'"
check "risk replay: byte-identical output"  bash -c "$(printf '%q ' "${R[@]}") --out '$T/r2.jsonl' > '$T/r2.txt' && cmp '$T/r1.jsonl' '$T/r2.jsonl' && cmp '$T/r1.txt' '$T/r2.txt'"
check "risk replay: a decision explained"   bash -c "grep '\"id\":\"e4\"' '$T/r1.jsonl' | grep -q '\"decision\":\"block\".*\"rule\":\"bad_ip\".*\"reason\":\"blocked network\"'"
check "risk replay: refused lines say why"  bash -c "grep -q '\"line\":7,\"error\":\"event: .time. must be' '$T/r1.jsonl'"
check "unknown command exits 2"       bash -c "'$Q' nonsense >/dev/null 2>&1; test \$? -eq 2"
echo "cli: $passed passed, $failed failed"
[ $failed -eq 0 ]
