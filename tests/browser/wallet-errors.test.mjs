// wallet-errors.test.mjs - the wallet's table of error sentences
// (web/wallet/errors.js) against the documented codes: every code a wallet
// route can answer (docs/wallet.md), the core's (docs/api.md, docs/http.md
// status tables), auth's (docs/auth.md "Error codes") and the payments
// refusals (docs/payments.md status tables) has its own sentence, each
// sentence is a sentence (capital, full stop, no code in it), and an unknown
// code gets the fallback. No browser: the module is plain ES.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./node.mjs";
import { FALLBACK, MESSAGES, sentence } from "../../web/wallet/errors.js";

const doc = (name) => readFileSync(join(REPO, "docs", name), "utf8");
const CODE = /`([a-z][a-z0-9]*(?:_[a-z0-9]+)+|[a-z]+)`/g;

// Codes in status-table rows ("| 409 | `a`, `b` | …"): the second column.
function tableCodes(text) {
  const out = new Set();
  for (const line of text.split("\n")) {
    const m = /^\|\s*[45]\d\d\s*\|([^|]*)\|/.exec(line);
    if (m) for (const c of m[1].matchAll(CODE)) out.add(c[1]);
  }
  return out;
}

// Codes right after a status in prose ("404 `signup_not_found`", "409 `a`, `b`").
function proseCodes(text) {
  const out = new Set();
  for (const m of text.matchAll(/\b[45]\d\d((?:,?\s?(?:or\s|and\s)?`[a-z_]+`)+)/g)) {
    for (const c of m[1].matchAll(CODE)) out.add(c[1]);
  }
  return out;
}

// auth.md "## Error codes": rows "| `code` | when |" and the list after them.
function authCodes(text) {
  const part = text.slice(text.indexOf("## Error codes"), text.indexOf("## Tests"));
  const out = new Set();
  for (const line of part.split("\n")) {
    const m = /^\|\s*`([a-z_]+)`\s*\|/.exec(line);
    if (m) out.add(m[1]);
  }
  const more = part.slice(part.indexOf("The HTTP routes add:"));
  for (const c of more.slice(0, more.indexOf("\n\n")).matchAll(CODE)) out.add(c[1]);
  return out;
}

// Not errors a customer's page can meet: operators' keys and setup, or
// words in a table cell that are not codes.
const NOT_FOR_CUSTOMERS = new Set(["key_expired", "merchant_key_unknown", "too_many_webhooks",
  "merchant_not_found", "refund_not_found", "webhook_not_found", "invalid_idempotency_key",
  "batch_too_large", "empty_batch", "out_of_range", "headers_too_large", "uri_too_long",
  "too_complex", "keys_unavailable", "method_not_allowed",
  // the console's operators (docs/auth.md "Operators"): the console's own sentences
  "passkey_refused", "operator_not_found", "operator_changed"]);

test("every documented code a customer can meet has its own sentence", () => {
  const codes = new Set([...proseCodes(doc("wallet.md")), ...tableCodes(doc("wallet.md")),
    ...tableCodes(doc("api.md")), ...tableCodes(doc("payments.md")), ...authCodes(doc("auth.md"))]);
  codes.add("exceeds_credits"); // the ledger's refusal of a transfer (422)
  const missing = [...codes].filter((c) => !MESSAGES[c] && !NOT_FOR_CUSTOMERS.has(c));
  assert.deepEqual(missing, [], `codes without a sentence: ${missing.join(", ")}`);
  assert.ok(codes.size > 60, `only ${codes.size} codes found: the docs' format changed?`);
});

test("each sentence reads as one, and never shows a code", () => {
  for (const [code, text] of Object.entries(MESSAGES)) {
    assert.match(text, /^[A-Z].*[.!?]$/, code);
    assert.ok(!/[a-z]+_[a-z]+/.test(text), `${code}: ${text}`);
  }
});

test("an unknown code, a browser failure and a network failure", () => {
  assert.equal(sentence({ status: 400, code: "something_new" }), FALLBACK);
  assert.equal(sentence({ status: 402, code: "exceeds_credits" }), MESSAGES.exceeds_credits);
  assert.match(sentence(new DOMException("x", "NotAllowedError")), /passkey/);
  assert.match(sentence(new TypeError("Failed to fetch")), /connection/);
  assert.equal(sentence({ status: 0, code: "network_error" }), MESSAGES.network_error);
  assert.equal(sentence(undefined), FALLBACK);
});
