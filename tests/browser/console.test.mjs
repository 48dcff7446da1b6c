// console.test.mjs - the operator console (web/console/) in a real Chromium against a real node
// with the ledger, auth, payments and risk modules: sign in from the #key= fragment (removed
// from the address bar), the audit (debits = credits), an account and its history and a
// transfer's detail, a risk decision made by POST /v1/risk/decide shown with its rules, the
// chart, a ruleset with an error (shown at its line, the live one unchanged) then a good one,
// the review queue (an intent in requires_review approved from the console), the orders list.
// Screenshots: build/screens/console-*.png at desktop 1280x800 and phone 360x640.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Node, newId } from "./node.mjs";
import { AUTHENTICATOR, SCREENS, launch } from "./browser.mjs";

const LEDGER = 840;
const RULES = `feature tx_1h = count by payer over 1h
rule big: amount >= 100000 => review score 10 "a large payment"
rule busy: tx_1h > 50 => challenge
`;
const BAD_RULES = `feature tx_1h = count by payer over 1h
rule big: amount >= 100000 => review
rule broken: amount >== 3 => block
`;
let node;
let browser;

async function putRuleset(text) {
  const r = await fetch(`http://127.0.0.1:${node.port}/v1/risk/ruleset`, { method: "PUT",
    headers: { Authorization: `Bearer ${node.key}`, "Content-Type": "text/plain" }, body: text });
  assert.equal(r.status, 200, await r.text());
}

before(async () => {
  node = await new Node({ modules: { payments: {}, risk: {} }, scopes: "admin" }).start();
  browser = await launch();
  await putRuleset(RULES);
});

after(async () => {
  await browser?.close();
  await node?.stop();
});

async function consolePage(t, viewport) {
  const context = await browser.newContext({ viewport });
  t.after(() => context.close());
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${node.origin}/console/#key=${node.key}`);
  await page.waitForSelector("body[data-ready=true]");
  return { page, errors };
}

test("ledger: audit, account history, transfer detail", async (t) => {
  const [a, b] = await node.accounts(LEDGER);
  const tid = newId();
  const r = await node.ok("POST", "/v1/transfers",
    [{ id: tid, debit_account_id: a, credit_account_id: b, amount: "4200", ledger: LEDGER, code: 1 }]);
  assert.equal(r.results[0].result, "ok");
  const { page, errors } = await consolePage(t, { width: 1280, height: 800 });
  assert.equal(await page.evaluate(() => location.hash), "");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("console.key")), node.key);
  await page.waitForSelector("#audit-summary[data-balanced=true]");
  await page.waitForSelector("body[data-chain=no]"); // GET /v1/chain/status answered 404
  assert.equal(await page.isVisible("#tab-chain"), false, "no chain module, no Chain tab");
  assert.match(await page.textContent("#audit-summary"), /Debits equal credits in every ledger/);
  const row = await page.textContent("#audit-ledgers tbody");
  assert.match(row, /840/);
  const audit = await node.ok("GET", "/v1/audit");
  assert.match(await page.textContent("#audit-journal"), new RegExp(audit.head_hash.slice(0, 16)));
  await page.screenshot({ path: join(SCREENS, "console-ledger-desktop.png") });

  await page.fill("#account-id", a);
  await page.click("#account-form button");
  await page.waitForSelector("#account-card");
  assert.match(await page.textContent("#account-card"), /4200/);
  await page.click(`#account-card button[aria-label="Transfer ${tid}"]`);
  await page.waitForSelector("#transfer-card");
  const detail = await page.textContent("#transfer-card");
  assert.ok(detail.includes(a) && detail.includes(b) && detail.includes("4200"), detail);
  await page.screenshot({ path: join(SCREENS, "console-account-desktop.png"), fullPage: true });

  await page.fill("#account-id", "12345678901234567");
  await page.click("#account-form button");
  await page.waitForFunction(() => document.getElementById("message").textContent !== "");
  assert.equal(await page.textContent("#message"), "Nothing was found with that id.");
  assert.deepEqual(errors, []);
});

test("risk: a decision, the chart, a bad then a good ruleset, the review queue", async (t) => {
  const d = await node.ok("POST", "/v1/risk/decide",
    { id: "evt-console-1", time: Math.floor(Date.now() / 1000), payer: "alice", amount: "250000" });
  assert.equal(d.decision, "review");
  // A payment intent the rules send to review.
  const users = await node.ok("POST", "/v1/users", { handle: `reviewed-${process.pid}`,
    display_name: "Reviewed Customer" });
  const [payer, payee] = await node.accounts(LEDGER);
  const intent = await node.ok("POST", "/v1/payment-intents", { user_id: users.id,
    debit_account_id: payer, credit_account_id: payee, amount: "150000", ledger: LEDGER,
    currency: "USD", payee_name: "Big Store", order_id: `review-${Date.now()}`, expires_in_s: 600 });
  assert.equal(intent.status, "requires_review");

  const { page, errors } = await consolePage(t, { width: 1280, height: 800 });
  await page.click("#tab-risk");
  await page.waitForSelector("body[data-risk-loaded]");
  await page.click('button[aria-label="Show the decision for event evt-console-1"]');
  const card = await page.textContent("#decision-card");
  assert.match(card, /review/);
  assert.match(card, /big \(review: a large payment\)/);
  assert.ok(await page.locator("#risk-chart rect[data-outcome=review]").count() >= 1);
  assert.match(await page.textContent("#rules-table"), /big/);

  await page.waitForSelector("#review-table");
  assert.match(await page.textContent("#review-table"), new RegExp(intent.id));
  await page.screenshot({ path: join(SCREENS, "console-risk-desktop.png"), fullPage: true });
  await page.click(`button[aria-label="Approve ${intent.id}"]`);
  await page.waitForSelector("#review-out .msg.ok");
  assert.equal((await node.ok("GET", `/v1/payment-intents/${intent.id}`)).status,
    "requires_confirmation");
  assert.doesNotMatch(await page.textContent("#review-table"), new RegExp(intent.id));

  const before = (await node.ok("GET", "/v1/risk/ruleset")).ruleset;
  await page.fill("#ruleset-text", BAD_RULES);
  await page.click("#ruleset-live");
  await page.waitForSelector("#ruleset-errors .editor-errors li");
  assert.equal(await page.getAttribute("#ruleset-errors .editor-errors li", "data-line"), "3");
  assert.match(await page.textContent("#ruleset-errors"), /Line 3, column \d+/);
  assert.match(await page.textContent("#ruleset-errors .src .bad"), /rule broken/);
  assert.equal((await node.ok("GET", "/v1/risk/ruleset")).ruleset, before, "live unchanged");
  await page.screenshot({ path: join(SCREENS, "console-ruleset-error-desktop.png"), fullPage: true });

  await page.fill("#ruleset-text", 'list vips set\n' + RULES +
    'rule huge: amount >= 900000 and not (payer in vips) => block "too large"\n');
  await page.click("#ruleset-live");
  await page.waitForFunction(() => document.getElementById("ruleset-ok").textContent !== "");
  assert.match(await page.textContent("#ruleset-ok"), /Loaded as the live ruleset: 3 rules/);
  assert.match(await page.textContent("#rules-table"), /huge/);
  assert.notEqual((await node.ok("GET", "/v1/risk/ruleset")).ruleset, before);

  // A snooze and its lift; a list's items added from the page.
  await page.click('button[aria-label="Snooze huge for an hour"]');
  await page.waitForSelector('button[aria-label="Lift the snooze of huge"]');
  const snoozed = (await node.ok("GET", "/v1/risk/rules")).rules.find((x) => x.rule === "huge");
  assert.equal(snoozed.snooze.reason, "snoozed in the console");
  await page.click('button[aria-label="Lift the snooze of huge"]');
  await page.waitForSelector('button[aria-label="Snooze huge for an hour"]');
  await page.selectOption("#list-name", "vips");
  await page.fill("#list-items", "alice, bob");
  await page.click("#list-form button[type=submit]");
  await page.waitForFunction(() => /vips \(2 items\)/.test(document.getElementById("list-out").textContent));
  assert.deepEqual((await node.ok("GET", "/v1/risk/lists/vips")).items.sort(), ["alice", "bob"]);
  assert.deepEqual(errors, []);
});

test("payments: the orders list with a filter; the console on a phone", async (t) => {
  const [, settlement] = await node.accounts(LEDGER);
  const m = await node.ok("POST", "/v1/merchants",
    { name: "Console Shop", settlement_account_id: settlement, ledger: LEDGER, currency: "USD" });
  const order = await node.ok("POST", "/v1/orders", { merchant_id: m.id, amount: "1999",
    ledger: LEDGER, currency: "USD", description: "console test order" });
  const { page, errors } = await consolePage(t, { width: 360, height: 640 });
  await page.screenshot({ path: join(SCREENS, "console-ledger-phone.png"), fullPage: true });
  await page.click("#tab-payments");
  await page.selectOption("#pay-status", "open");
  await page.click("#pay-filter button[type=submit]");
  await page.waitForFunction((id) => document.getElementById("pay-table").textContent.includes(id),
    order.id);
  assert.match(await page.textContent("#pay-table"), /19\.99 USD/);
  await page.selectOption("#pay-status", "refunded");
  await page.click("#pay-filter button[type=submit]");
  await page.waitForFunction(() => /No orders match/.test(document.getElementById("pay-table").textContent));
  await page.screenshot({ path: join(SCREENS, "console-payments-phone.png"), fullPage: true });
  await page.focus("#tab-payments");
  await page.keyboard.press("ArrowRight");
  assert.equal(await page.getAttribute("#tab-risk", "aria-selected"), "true");
  await page.waitForSelector("body[data-risk-loaded]");
  await page.screenshot({ path: join(SCREENS, "console-risk-phone.png"), fullPage: true });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `no horizontal scroll on a phone (${width}px)`);
  assert.deepEqual(errors, []);
});

// The Chain tab against the routes' documented shapes (docs/chain.md), answered by the browser
// (page.route) since this node runs no validator: status, validators, recent blocks, a block.
test("chain: the tab appears when /v1/chain/status answers, a small explorer", async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  t.after(() => context.close());
  const page = await context.newPage();
  const hex = (n) => n.toString(16).padStart(64, "0");
  const block = (h) => ({ height: String(h), hash: hex(1000 + h), parent_hash: hex(999 + h),
    view: String(h), proposer: 0, timestamp_ms: String(1764672000000 + h * 1000),
    tx_root: hex(7), state_root: hex(8), qc_signers: "3", txs: h === 12 ? [hex(4242)] : [] });
  const answers = {
    "/v1/chain/status": { chain_id: "quipu-demo", suite: "ed25519", genesis_hash: hex(1),
      height: "12", head_hash: hex(1012), state_root: hex(8), view: "12", syncing: false,
      epoch: 0, validators: [0, 1, 2, 3].map((i) => ({ index: i, name: `node${i}`, public_key: hex(50 + i) })),
      peers: [1, 2, 3].map((i) => ({ index: i, name: `node${i}`, up: i !== 3 })), self: 0,
      mempool: { count: "2", bytes: "300" }, tx_bytes_max: "65536" },
    [`/v1/chain/txs/${hex(4242)}`]: { height: "12", index: 0, tx: "00ff", receipt: { ok: true } },
  };
  await page.route("**/v1/chain/**", (route) => {
    const path = new URL(route.request().url()).pathname;
    const m = /^\/v1\/chain\/blocks\/(\d+)$/.exec(path);
    const body = m ? block(Number(m[1])) : answers[path];
    return route.fulfill({ status: body ? 200 : 404, contentType: "application/json",
      body: JSON.stringify(body || { error: { code: "not_found", message: "no", path: "" } }) });
  });
  await page.goto(`${node.origin}/console/#key=${node.key}`);
  await page.waitForSelector("body[data-chain=yes]");
  await page.click("#tab-chain");
  await page.waitForSelector('#chain-blocks button[aria-label="Block 3"]');
  assert.match(await page.textContent("#chain-status"), /quipu-demo/);
  assert.match(await page.textContent("#chain-validators"), /node0 \(this node\)/);
  assert.equal(await page.locator("#chain-blocks tbody tr").count(), 10);
  await page.click('#chain-blocks button[aria-label="Block 12"]');
  await page.waitForSelector("#block-out .card");
  assert.match(await page.textContent("#block-out"), /Signers3/);
  await page.click("#block-out table button");
  await page.waitForSelector("#tx-out .card");
  assert.match(await page.textContent("#tx-out"), /12 \/ 0/);
  await page.screenshot({ path: join(SCREENS, "console-chain-desktop.png"), fullPage: true });
});

// Operators sign in with a passkey (docs/auth.md, "Operators"): signed in with the admin key,
// the Operators tab enrolls a passkey for "ops" on this browser's virtual authenticator; signed
// out, "Sign in with a passkey" mints a console key (scope admin, expiring) and the audit
// shows; signing out revokes that key.
test("operators: enroll a passkey, sign out, sign in with it", async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  t.after(() => context.close());
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", { options: AUTHENTICATOR });
  await page.goto(`${node.origin}/console/#key=${node.key}`);
  await page.waitForSelector("body[data-ready=true]");
  await page.waitForSelector("#audit-summary[data-balanced=true]");

  await page.click("#tab-operators");
  await page.waitForSelector("#operators-table[data-count]");
  await page.fill("#enroll-name", "ops");
  await page.click("#enroll-form button[type=submit]");
  await page.waitForSelector("#enroll-out .msg.ok");
  assert.match(await page.textContent("#enroll-out"), /enrolled for operator ops/);
  await page.waitForSelector('#operators-table[data-count="1"]');
  assert.match(await page.textContent("#operators-table"), /ops/);
  assert.equal(await page.locator('#operators-table button[aria-label^="Remove passkey"]').count(), 1);
  assert.equal(await page.locator('button[aria-label="Remove operator ops"]').count(), 1);
  const listed = await node.ok("GET", "/v1/operators");
  assert.equal(listed.data[0].name, "ops");
  assert.equal(listed.data[0].passkeys.length, 1);
  await page.screenshot({ path: join(SCREENS, "console-passkey-enrolled.png"), fullPage: true });

  await page.click("#signout");
  await page.waitForSelector("body[data-ready=true]");
  await page.waitForSelector("#signin:not([hidden])");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("console.key")), null);
  assert.equal(await page.getAttribute("#operator-name", "autocomplete"), "username webauthn");
  await page.screenshot({ path: join(SCREENS, "console-passkey-signin.png") });

  await page.fill("#operator-name", "ops");
  await page.click("#passkey-signin");
  await page.waitForSelector("#audit-summary[data-balanced=true]");
  assert.match(await page.textContent("#audit-summary"), /Debits equal credits in every ledger/);
  assert.equal(await page.getAttribute("body", "data-operator"), "ops");
  assert.match(await page.textContent("#session"), /Signed in as operator ops with a passkey/);
  const key = await page.evaluate(() => sessionStorage.getItem("console.key"));
  assert.notEqual(key, node.key);
  const r = await fetch(`http://127.0.0.1:${node.port}/v1/audit`,
    { headers: { Authorization: `Bearer ${key}` } });
  assert.equal(r.status, 200);
  await page.screenshot({ path: join(SCREENS, "console-passkey-desktop.png"), fullPage: true });

  // Signing out revokes the console key (the node notices within a fraction of a second).
  await page.click("#signout");
  await page.waitForSelector("#signin:not([hidden])");
  let status = 200;
  for (let i = 0; i < 100 && status !== 401; i++) {
    status = (await fetch(`http://127.0.0.1:${node.port}/v1/audit`,
      { headers: { Authorization: `Bearer ${key}` } })).status;
    if (status !== 401) await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(status, 401, "the console key is revoked");

  // A passkey for no enrolled operator is refused as a sentence.
  await page.fill("#operator-name", "nobody");
  await page.click("#passkey-signin");
  await page.waitForFunction(() => document.getElementById("message").textContent !== "");
  assert.match(await page.textContent("#message"), /passkey was not accepted|passkey was not used/);
  assert.deepEqual(errors, []);
});
