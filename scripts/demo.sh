#!/usr/bin/env bash
# `make demo`: starts `quipu node` on the defaults (home and data ./quipu-data,
# http://127.0.0.1:7070, modules ledger, risk, auth, payments, wallet and web -
# a node.json is written there when missing), creates a demo API key and an
# operator (admin) key for the console, moves some money through
# the HTTP API with curl (accounts, a transfer, a two-phase card payment, a
# limit that refuses an overdraft, a linked chain that fails as a whole),
# then gives the wallet, the shop and the console some life
# (scripts/demo_wallet.py: a merchant, two passkey users, a transfer, a
# scanned QR payment, a pay code, a refund), prints the URLs of the wallet,
# the shop and the console, the key and a curl example, and keeps serving
# until Ctrl-C, which stops the node cleanly.  Ledger ids are fixed, so a
# second run answers "exists" and moves nothing twice.
set -euo pipefail
Q=$(realpath "${1:-build/quipu}")
DATA=${QUIPU_DATA:-./quipu-data}
LISTEN=${QUIPU_LISTEN:-127.0.0.1:7070}
URL="http://$LISTEN"

WEB=$(realpath "$(dirname "$0")/../web")
RULES=$(realpath "$(dirname "$0")/../examples/risk/payments.rules")
mkdir -p "$DATA"
# The node's configuration: the ledger, passkey payments (auth) and the
# static pages (web).  An existing node.json is the operator's: kept.
[ -e "$DATA/node.json" ] || cat >"$DATA/node.json" <<JSON
{"listen": "$LISTEN", "modules": {"ledger": {}, "risk": {"ruleset_file": "$RULES"},
 "auth": {}, "payments": {"collect_without_confirmation_max": 5000},
 "wallet": {"welcome_amount": "10000"}, "web": {"root": "$WEB"}}}
JSON

# A fresh demo key each run; the previous one is revoked (keys are shown once).
"$Q" keys revoke --data "$DATA" demo >/dev/null 2>&1 || true
"$Q" keys revoke --data "$DATA" console >/dev/null 2>&1 || true
KEY=$("$Q" keys create --data "$DATA" --name demo \
        --scope ledger:read,ledger:write,auth:read,auth:write,risk:decide,risk:admin 2>/dev/null)
ADMIN=$("$Q" keys create --data "$DATA" --name console --scope admin 2>/dev/null)

"$Q" node --home "$DATA" &
PID=$!
stop() {
  trap - INT TERM EXIT
  if kill -0 "$PID" 2>/dev/null; then
    echo; echo "stopping the node (SIGTERM)..."
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
}
trap stop INT TERM EXIT

for _ in $(seq 100); do
  curl -sf "$URL/healthz" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { echo "demo: the node did not start (see above)" >&2; exit 1; }
  sleep 0.1
done

post() { # path, JSON body: prints "  id -> result" per event
  curl -sS -X POST "$URL$1" -H @<(echo "Authorization: Bearer $KEY") -H 'Content-Type: application/json' -d "$2" |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print("\n".join("  %-6s -> %s" % (r["id"], r["result"]) for r in d["results"]) if "results" in d else d)'
}

echo
echo "== accounts (ledger 840 = USD): bank cash, alice (may not overdraw), bob, coffee shop"
post /v1/accounts '[
  {"id":"1001","ledger":840,"code":1},
  {"id":"2001","ledger":840,"code":2,"flags":["debits_must_not_exceed_credits","history"]},
  {"id":"2002","ledger":840,"code":2},
  {"id":"3001","ledger":840,"code":2}]'
echo "== deposit 100.00 to alice, alice pays bob 25.00"
post /v1/transfers '[
  {"id":"9001","debit_account_id":"1001","credit_account_id":"2001","amount":"10000","ledger":840,"code":10},
  {"id":"9002","debit_account_id":"2001","credit_account_id":"2002","amount":"2500","ledger":840,"code":10}]'
echo "== a card payment: authorize 4.50 (pending), capture 4.00 (post), the rest is released"
post /v1/transfers '[{"id":"9003","debit_account_id":"2001","credit_account_id":"3001","amount":"450","ledger":840,"code":20,"flags":["pending"],"timeout":3600}]'
post /v1/transfers '[{"id":"9004","pending_id":"9003","amount":"400","flags":["post_pending_transfer"]}]'
echo "== alice tries to overdraw (refused: exceeds_credits)"
post /v1/transfers '[{"id":"9005","debit_account_id":"2001","credit_account_id":"2002","amount":"1000000","ledger":840,"code":10}]'
echo "== a linked chain whose second leg is invalid: neither leg happens"
post /v1/transfers '[
  {"id":"9006","debit_account_id":"2002","credit_account_id":"3001","amount":"100","ledger":840,"code":10,"flags":["linked"]},
  {"id":"9007","debit_account_id":"3001","credit_account_id":"9999","amount":"100","ledger":840,"code":10}]'
echo "== alice's account"
curl -sS "$URL/v1/accounts/2001" -H @<(echo "Authorization: Bearer $KEY"); echo
echo "== audit"
curl -sS "$URL/v1/audit" -H @<(echo "Authorization: Bearer $KEY"); echo
echo "== the newest transfers of ledger 840 (POST /v1/transfers/query) and the key that sent each"
curl -sS -X POST "$URL/v1/transfers/query" -H @<(echo "Authorization: Bearer $KEY") \
     -H 'Content-Type: application/json' -d '{"ledger":840,"flags":["reversed"],"limit":3}' |
  /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print("\n".join("  %-6s %8s  submitted_by %s" % (t["id"], t["amount"], t["submitted_by"]) for t in d.get("transfers", [])) or d)'

echo "== risk: block a payee, then ask for decisions (each explained; examples/risk/payments.rules)"
curl -sS -X POST "$URL/v1/risk/lists/blocked_payees" -H @<(echo "Authorization: Bearer $KEY") \
     -H 'Content-Type: application/json' -d '{"add":["mallory"]}' >/dev/null || true
curl -sS -X POST "$URL/v1/risk/decide" -H @<(echo "Authorization: Bearer $KEY") \
     -H 'Content-Type: application/json' -d "[
  {\"id\":\"d1\",\"time\":$(date +%s),\"payer\":\"alice\",\"payee\":\"bob\",\"amount\":\"2500\"},
  {\"id\":\"d2\",\"time\":$(date +%s),\"payer\":\"alice\",\"payee\":\"mallory\",\"amount\":\"6000000\"}]" |
  /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print("\n".join("  %s -> %-9s score %-3s %s" % (i, x["decision"], x["score"], "; ".join("%s: %s" % (f["rule"], f["reason"]) for f in x["fired"])) for i, x in zip(("alice->bob 25.00", "alice->mallory 60,000.00"), d)) if isinstance(d, list) else d)'

echo "== the wallet, the shop and the console: a merchant, two customers with passkeys"
STORY=$(/usr/bin/python3 "$(dirname "$0")/demo_wallet.py" "$URL" "$ADMIN")
echo "$STORY" | grep -v '^MERCHANT_KEY '
MKEY=$(echo "$STORY" | sed -n 's/^MERCHANT_KEY \([^ ]*\) .*/\1/p')
MERCHANT=$(echo "$STORY" | sed -n 's/^MERCHANT_KEY [^ ]* //p')
WEBURL="http://localhost:${LISTEN##*:}"

cat <<MSG

quipu is running a node (ledger, risk, auth, payments, wallet, web) in $DATA at $URL
API key (ledger, auth and risk; shown once): $KEY

In your browser (passkeys want localhost, not 127.0.0.1):
  wallet   $WEBURL/wallet/     sign up with a passkey; new users get 100.00 from the bank
  shop     $WEBURL/shop/#key=$MKEY&merchant=$MERCHANT
  console  $WEBURL/console/#key=$ADMIN
           (Operators tab: enroll a passkey for an operator, then sign in with it: $WEBURL/console/)
  (the shop's and the console's keys travel in the address's fragment, which browsers never
   send to a server; the pages keep them in sessionStorage and clear the address bar)
  passkey payment demo: $WEBURL/web/auth-demo/index.html#key=$KEY

Try (the key stays in the environment, off command lines, where \`ps\` shows it):
  export QUIPU_URL=$URL QUIPU_KEY=$KEY
  curl -s $URL/v1/accounts/2001 -H @<(echo "Authorization: Bearer \$QUIPU_KEY")
  curl -s -X POST $URL/v1/transfers -H @<(echo "Authorization: Bearer \$QUIPU_KEY") -H 'Content-Type: application/json' \\
       -d '[{"id":"9100","debit_account_id":"2001","credit_account_id":"3001","amount":"150","ledger":840,"code":10}]'
  $Q client history 2001
  curl -s $URL/v1/risk/rules -H @<(echo "Authorization: Bearer \$QUIPU_KEY")   # the live rules, fire counts
  curl -s $URL/metrics | head;  the API reference: GET $URL/v1/openapi.json (with the key), docs/api.md

Press Ctrl-C to stop the node.
MSG
wait "$PID"
