// shop.test.mjs - the demo shop (web/shop/) in a real Chromium against a real node with the
// payments module: sign in with a merchant key from the #key= fragment, pick items, create an
// order and show its QR code; the order is paid through the API (a payment intent for the
// order confirmed with a passkey on the auth demo page's virtual authenticator) and the page
// turns to "paid" by itself; a refund; a bad payment code shown as a sentence. Screenshots:
// build/screens/shop-*.png at desktop 1280x800 and phone 360x640.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Node } from "./node.mjs";
import { SCREENS, clickFor, demoPage, launch } from "./browser.mjs";

const LEDGER = 840;
let node;
let browser;
let shop; // {merchant, key}

before(async () => {
  node = await new Node({ modules: { payments: {} }, scopes: "admin" }).start();
  browser = await launch();
  const [, settlement] = await node.accounts(LEDGER);
  const merchant = await node.ok("POST", "/v1/merchants",
    { name: "Corner Cafe", settlement_account_id: settlement, ledger: LEDGER, currency: "USD" });
  const key = await node.ok("POST", `/v1/merchants/${merchant.id}/keys`, { name: "till" });
  shop = { merchant, key: key.key };
});

after(async () => {
  await browser?.close();
  await node?.stop();
});

async function shopPage(viewport) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e))); // script errors (not HTTP answers)
  await page.goto(`${node.origin}/shop/#key=${shop.key}&merchant=${shop.merchant.id}`);
  await page.waitForSelector("body[data-ready=true]");
  return { context, page, errors };
}

// A user with a passkey on the auth demo page, paying `order` with a payment intent.
async function payWithPasskey(t, order) {
  const d = await demoPage(browser, node);
  t.after(() => d.context.close());
  await d.page.fill("#handle", `shopper-${process.pid}`);
  const reg = await clickFor(d.page, "#register-button", "#register-result");
  assert.equal(reg.code, "registered", reg.text);
  const userId = await d.page.evaluate(() => window.authDemo.userId);
  const [payer] = await node.accounts(LEDGER);
  const intent = await node.ok("POST", "/v1/payment-intents", {
    user_id: userId, debit_account_id: payer, credit_account_id: order.settlement_account_id,
    amount: order.amount, ledger: order.ledger, currency: order.currency,
    payee_name: "Corner Cafe", order_id: order.id, expires_in_s: 600 });
  await d.page.fill("#intent-id", intent.id);
  await d.page.evaluate((id) => window.authDemo.loadIntent(id), intent.id);
  const paid = await clickFor(d.page, "#pay-button", "#pay-result");
  assert.equal(paid.code, "succeeded", paid.text);
  return payer;
}

test("the shop: order, QR, paid live, refund", async (t) => {
  const { context, page, errors } = await shopPage({ width: 1280, height: 800 });
  t.after(() => context.close());
  assert.equal(await page.evaluate(() => location.hash), "", "the key left the address bar");
  assert.equal(await page.textContent("#merchant-name"), "Corner Cafe");
  await page.click("#add-coffee");
  await page.click("#add-coffee");
  await page.click("#add-croissant");
  assert.equal(await page.textContent("#total"), "9.75 USD");
  await page.screenshot({ path: join(SCREENS, "shop-menu-desktop.png") });
  await page.click("#create");
  await page.waitForSelector("body[data-order-status=open]");
  await page.waitForFunction(() => document.getElementById("qr").naturalWidth > 0);
  const live = await page.waitForSelector("body[data-live]").then((b) => b.getAttribute("data-live"));
  assert.ok(["sse", "poll"].includes(live), live);
  t.diagnostic(`the page learns of the payment by ${live === "sse" ? "server-sent events" : "polling"}`);
  assert.equal(await page.textContent("#order-amount"), "9.75");
  const orderId = (await page.textContent("#order-id")).replace("Order ", "");
  const order = await node.ok("GET", `/v1/orders/${orderId}`);
  assert.equal(order.amount, "975");
  assert.equal(order.description, "2 × Coffee, 1 × Croissant");
  await page.screenshot({ path: join(SCREENS, "shop-order-desktop.png") });

  // A wrong payment code: a sentence, and the order stays open.
  await page.fill("#paycode", "280000001234567890");
  await page.click("#collect-form button");
  await page.waitForFunction(() => document.getElementById("message").textContent.length > 0);
  const msg = await page.textContent("#message");
  assert.match(msg, /payment code/i);
  assert.doesNotMatch(msg, /payment_code_invalid/);
  assert.equal((await node.ok("GET", `/v1/orders/${orderId}`)).status, "open");

  const payer = await payWithPasskey(t, order);
  await page.waitForSelector("body[data-order-status=paid]", { timeout: 10000 });
  assert.equal(await page.textContent("#order-status"), "paid");
  await page.screenshot({ path: join(SCREENS, "shop-paid-desktop.png") });
  assert.equal((await node.account(payer)).debits_posted, "975");

  await page.fill("#refund-amount", "3.50");
  await page.click("#refund-form button");
  await page.waitForSelector("body[data-order-status=partially_refunded]");
  assert.match(await page.textContent("#order-note"), /Refunded 3\.50 USD/);
  assert.equal((await node.account(payer)).credits_posted, "350");
  const refunds = await node.ok("GET", `/v1/refunds?order_id=${orderId}`);
  assert.equal(refunds.data.length, 1);
  await page.screenshot({ path: join(SCREENS, "shop-refund-desktop.png") });
  assert.deepEqual(errors, []);
});

test("the shop on a phone, and a bad key is a sentence", async (t) => {
  const { context, page } = await shopPage({ width: 360, height: 640 });
  t.after(() => context.close());
  await page.click("#add-tea");
  await page.click("#create");
  await page.waitForSelector("body[data-order-status=open]");
  await page.waitForFunction(() => document.getElementById("qr").naturalWidth > 0);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `no horizontal scroll on a phone (${width}px)`);
  await page.screenshot({ path: join(SCREENS, "shop-order-phone.png"), fullPage: true });

  const bad = await browser.newContext({ viewport: { width: 360, height: 640 } });
  t.after(() => bad.close());
  const p2 = await bad.newPage();
  await p2.goto(`${node.origin}/shop/#key=qpk_0000000000000000_bad&merchant=${shop.merchant.id}`);
  await p2.waitForSelector("body[data-ready=true]");
  assert.match(await p2.textContent("#message"), /API key was not accepted/);
  assert.equal(await p2.isVisible("#signin"), true);
  await p2.screenshot({ path: join(SCREENS, "shop-signin-phone.png") });
});
