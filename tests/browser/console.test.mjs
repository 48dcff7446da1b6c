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
import { SCREENS, launch } from "./browser.mjs";

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

  await page.fill("#ruleset-text", RULES + 'rule huge: amount >= 900000 => block "too large"\n');
  await page.click("#ruleset-live");
  await page.waitForFunction(() => document.getElementById("ruleset-ok").textContent !== "");
  assert.match(await page.textContent("#ruleset-ok"), /Loaded as the live ruleset: 3 rules/);
  assert.match(await page.textContent("#rules-table"), /huge/);
  assert.notEqual((await node.ok("GET", "/v1/risk/ruleset")).ruleset, before);
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
