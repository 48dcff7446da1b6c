// wallet.test.mjs - the wallet (web/wallet, docs/wallet.md) in Debian's
// Chromium against a real node with ledger, auth, payments, risk, wallet and
// web: two customers sign up with virtual authenticators, money arrives
// (an operator's deposit) and shows live, a transfer is confirmed with the
// passkey and posted in the ledger, a shop order is paid by scanning its QR
// with Chromium's fake camera (a .y4m made from the order's qr.png), a pay
// code is collected by the shop, errors read as sentences, and one session
// cannot read another customer's bill or intent. Screenshots of the main
// screens go to build/screens/wallet-*.png (phone 360x640 and desktop).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Node, newId, walletConfig } from "./node.mjs";
import { launch } from "./browser.mjs";
import { qrVideo } from "./y4m.mjs";
import { DESKTOP, PHONE, customer, go, launchWithCamera, pageFetch, shot, signup }
  from "./wallet.mjs";
import { MESSAGES } from "../../web/wallet/errors.js";

const LEDGER = 840;
const tag = newId().slice(-6);
const ALICE = `alice${tag}`;
const BOB = `bob${tag}`;

let node;
let browser;
let dir;
let shop; // {merchant, settlement, scanOrder}
let alice; // customer(): {context, page, …}
let bob;

async function order(amount, description) {
  return node.ok("POST", "/v1/orders", { merchant_id: shop.merchant.id, amount, ledger: LEDGER,
    currency: "USD", description });
}

before(async () => {
  node = await new Node(walletConfig()).start();
  dir = mkdtempSync(join(tmpdir(), "quipu-wallet-video-"));
  const [settlement] = await node.accounts(LEDGER);
  shop = { settlement };
  shop.merchant = await node.ok("POST", "/v1/merchants", { name: "Tea House",
    settlement_account_id: settlement, ledger: LEDGER, currency: "USD" });
  shop.scanOrder = await order("350", "Two cups of oolong");
  const png = await fetch(`http://127.0.0.1:${node.port}/v1/orders/${shop.scanOrder.id}/qr.png`,
    { headers: { Authorization: `Bearer ${node.key}` } });
  assert.equal(png.status, 200);
  const video = join(dir, "qr.y4m");
  const plain = await launch();
  await qrVideo(plain, Buffer.from(await png.arrayBuffer()), video);
  await plain.close();
  browser = await launchWithCamera(video);
});

after(async () => {
  await browser?.close();
  await node?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const balanceText = (page) => page.textContent("#balances li .balance");

test("a new customer signs up with a passkey and sees a deposit arrive live", async () => {
  alice = await customer(browser, node, PHONE);
  const { page } = alice;
  await page.waitForSelector("body[data-view=welcome]");
  await shot(page, "welcome-phone");
  await signup(page, ALICE, "Alice Liddell");
  assert.equal(await balanceText(page), "0.00 USD");
  const bill = await node.ok("POST", `/v1/wallet/users/${ALICE}/deposit`, { amount: "10000" });
  assert.equal(bill.kind, "deposit");
  alice.deposit = bill;
  await page.waitForSelector(`#recent li[data-bill="${bill.id}"]`);
  await page.waitForFunction(() =>
    document.querySelector("#balances li .balance")?.textContent === "100.00 USD");
  await shot(page, "home-phone");
});

test("a transfer to another customer is confirmed with the passkey and posted", async () => {
  bob = await customer(browser, node, DESKTOP);
  await bob.page.waitForSelector("body[data-view=welcome]");
  await shot(bob.page, "welcome-desktop");
  await signup(bob.page, BOB, "Bob Dylan");
  const { page } = alice;
  await go(page, "send");
  await page.fill("#send-to", BOB);
  await page.waitForSelector('#send-to-name:has-text("Bob Dylan")');
  await page.fill("#send-amount", "12.34");
  await page.fill("#send-note", "Lunch");
  await page.click("#send-form button[type=submit]");
  await page.waitForSelector("#sheet[open]");
  assert.equal(await page.textContent("#sheet-amount"), "12.34 USD");
  assert.equal(await page.textContent("#sheet-payee"), "Bob Dylan");
  assert.equal(await page.evaluate(() => document.activeElement.id), "sheet-confirm");
  await shot(page, "send-sheet-phone");
  await page.click("#sheet-confirm");
  await page.waitForSelector("#sheet:not([open])", { state: "attached" });
  await page.waitForSelector("body[data-view=home]");
  await page.waitForFunction(() =>
    document.querySelector("#balances li .balance")?.textContent === "87.66 USD");
  // Bob's page, open all along, shows the bill without a reload.
  const li = await bob.page.waitForSelector("#recent li[data-bill]");
  assert.match(await li.textContent(), /Alice Liddell/);
  assert.match(await li.textContent(), /\+12\.34 USD/);
  await shot(bob.page, "home-desktop");
  // The ledger has the transfer: 1234 from Alice's account to Bob's.
  const mine = (await pageFetch(page, "GET", "/v1/wallet/bills?limit=5")).json.data;
  const sent = mine.find((b) => b.direction === "out" && b.kind === "transfer");
  assert.equal(sent.amount, "1234");
  assert.equal(sent.status, "posted");
  const t = await node.ok("GET", `/v1/transfers/${sent.transfer_id}`);
  assert.equal(t.amount, "1234");
  const aliceMe = (await pageFetch(page, "GET", "/v1/wallet/me")).json;
  const bobMe = (await pageFetch(bob.page, "GET", "/v1/wallet/me")).json;
  assert.equal(t.debit_account_id, aliceMe.accounts[0].id);
  assert.equal(t.credit_account_id, bobMe.accounts[0].id);
  assert.equal((await node.account(bobMe.accounts[0].id)).credits_posted, "1234");
  alice.sent = sent;
});

test("bills by month, search and a bill's detail", async () => {
  const { page } = bob;
  await go(page, "bills");
  await page.waitForSelector("#bills-list li[data-bill]");
  await page.fill("#bills-q", "12.34");
  await page.click("#bills-form button[type=submit]");
  await page.waitForFunction(() =>
    /1 bill/.test(document.querySelector("#bills-status").textContent));
  await page.fill("#bills-q", "nobody-at-all");
  await page.click("#bills-form button[type=submit]");
  await page.waitForSelector('#bills-status:has-text("No bills match")');
  await page.fill("#bills-q", "alice");
  await page.click("#bills-form button[type=submit]");
  await page.waitForSelector("#bills-list li[data-bill]");
  await shot(page, "bills-desktop");
  await page.click("#bills-list li[data-bill] a");
  await page.waitForSelector("body[data-view=bill]");
  await page.waitForSelector("#bill-detail dd");
  const detail = await page.textContent("#bill-detail");
  assert.match(detail, /Alice Liddell/);
  assert.match(detail, /12\.34 USD/);
  assert.match(detail, /Completed/);
  assert.ok(detail.includes(alice.sent.transfer_id), detail);
  await shot(page, "bill-desktop");
});

test("errors read as sentences, never as codes", async () => {
  const { page } = alice;
  await go(page, "send");
  for (const [to, amount, code] of [[BOB, "5000", "exceeds_credits"],
    [`nobody${tag}`, "1.00", "payee_not_found"], [ALICE, "1.00", "cannot_pay_self"]]) {
    await page.fill("#send-to", to);
    await page.fill("#send-amount", amount);
    await page.click("#send-form button[type=submit]");
    const notice = await page.waitForSelector(`#notice[data-code="${code}"]`);
    assert.equal(await notice.textContent(), MESSAGES[code]);
  }
  await page.fill("#send-amount", "1.234");
  await page.click("#send-form button[type=submit]");
  await page.waitForSelector('#notice:has-text("like 12.50")');
  await shot(page, "error-phone");
});

test("the sheet by keyboard: Escape cancels the intent and gives focus back", async () => {
  const { page } = alice;
  await go(page, "send");
  await page.fill("#send-to", BOB);
  await page.fill("#send-amount", "2");
  await page.fill("#send-note", "");
  await page.focus("#send-amount");
  await page.keyboard.press("Enter"); // submits the form
  await page.waitForSelector("#sheet[open]");
  assert.equal(await page.textContent("#sheet-amount"), "2.00 USD");
  const id = await page.getAttribute("#sheet", "data-intent");
  assert.equal(await page.evaluate(() => document.activeElement.id), "sheet-confirm");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.id), "sheet-cancel");
  await page.keyboard.press("Escape");
  await page.waitForSelector("#sheet:not([open])", { state: "attached" });
  assert.equal(await page.evaluate(() => document.activeElement.id), "send-amount");
  let status;
  for (let i = 0; i < 100 && status !== "canceled"; i++) {
    status = (await pageFetch(page, "GET", `/v1/wallet/intents/${id}`)).json.status;
    if (status !== "canceled") await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(status, "canceled");
  await page.waitForFunction(() =>
    document.querySelector("#balances li .balance")?.textContent === "87.66 USD");
});

test("scan to pay: the fake camera reads the shop's QR, the passkey pays", async () => {
  const { page } = alice;
  await go(page, "scan");
  const card = await page.waitForSelector("#scan-order:not([hidden])", { timeout: 20000 });
  assert.equal(await card.getAttribute("data-order"), shop.scanOrder.id);
  assert.equal(await page.textContent("#scan-merchant"), "Tea House");
  assert.equal(await page.textContent("#scan-amount"), "3.50 USD");
  await shot(page, "scan-phone");
  await page.click("#scan-pay");
  await page.waitForSelector("#sheet[open]");
  assert.equal(await page.textContent("#sheet-payee"), "Tea House");
  await page.click("#sheet-confirm");
  await page.waitForSelector("body[data-view=home]");
  const o = await node.ok("GET", `/v1/orders/${shop.scanOrder.id}`);
  assert.equal(o.status, "paid");
  await page.waitForFunction(() =>
    document.querySelector("#balances li .balance")?.textContent === "84.16 USD");
});

test("a pay code, shown after the passkey, is collected by the shop", async () => {
  const { page } = alice;
  await go(page, "paycode");
  assert.equal(await page.isVisible("#paycode-card"), false);
  await page.click("#paycode-unlock");
  const digits = await page.waitForSelector("#paycode-digits[data-code]");
  const code = await digits.getAttribute("data-code");
  assert.match(code, /^\d{18}$/);
  assert.ok(await page.$("#paycode-qr svg"));
  await shot(page, "paycode-phone");
  const o = await order("500", "A pot of jasmine");
  const paid = await node.ok("POST", `/v1/orders/${o.id}/collect`, { payment_code: code });
  assert.equal(paid.status, "paid");
  await go(page, "home");
  await page.waitForFunction(() =>
    document.querySelector("#balances li .balance")?.textContent === "79.16 USD");
  await page.waitForSelector('#recent li:has-text("Tea House")');
});

test("a collect above the shop's limit waits for the passkey: the sheet opens live", async () => {
  const { page } = bob; // 12.34 USD; the node collects at most 10.00 without the passkey
  await go(page, "paycode");
  await page.click("#paycode-unlock");
  const code = await (await page.waitForSelector("#paycode-digits[data-code]"))
    .getAttribute("data-code");
  const o = await order("1100", "A tea set");
  const waiting = await node.ok("POST", `/v1/orders/${o.id}/collect`, { payment_code: code });
  assert.equal(waiting.status, "requires_confirmation");
  await page.waitForSelector("#sheet[open]");
  assert.equal(await page.textContent("#sheet-amount"), "11.00 USD");
  assert.equal(await page.textContent("#sheet-payee"), "Tea House");
  await page.waitForSelector('#sheet-what:has-text("A tea set")');
  await shot(page, "collect-sheet-desktop");
  await page.click("#sheet-confirm");
  await page.waitForSelector("#sheet:not([open])", { state: "attached" });
  const deadline = Date.now() + 10000;
  let status;
  while (Date.now() < deadline) {
    status = (await node.ok("GET", `/v1/orders/${o.id}`)).status;
    if (status === "paid") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, "paid");
  await go(page, "home");
  await page.waitForFunction(() =>
    document.querySelector("#balances li .balance")?.textContent === "1.34 USD");
});

test("a session cannot read another customer's bill or intent", async () => {
  const bill = alice.sent; // Bob's bill too (he was paid): its intent is Alice's alone
  for (const [path, code] of [[`/v1/wallet/bills/${alice.deposit.id}`, null],
    [`/v1/wallet/intents/${bill.intent_id}`, "payment_intent_not_found"]]) {
    const own = await pageFetch(alice.page, "GET", path);
    assert.equal(own.status, 200, path);
    const other = await pageFetch(bob.page, "GET", path);
    assert.equal(other.status, 404, path);
    if (code) assert.equal(other.json.error.code, code);
  }
  const cancel = await pageFetch(bob.page, "POST", `/v1/wallet/intents/${bill.intent_id}/cancel`,
    {});
  assert.equal(cancel.status, 404);
});

test("signing out ends the session; signing in again uses the passkey", async () => {
  const { page } = bob;
  await page.click("#logout");
  await page.waitForSelector("body[data-view=welcome]");
  assert.equal((await pageFetch(page, "GET", "/v1/wallet/me")).status, 401);
  await page.click("#signin");
  await page.waitForSelector("body[data-view=home]");
  await page.waitForSelector(`#who:has-text("@${BOB}")`, { state: "attached" });
  await shot(page, "signed-in-desktop");
});

test("installable: the manifest and its icons; the service worker caches the shell, no /v1/",
  async () => {
    const { page } = alice;
    const manifest = await pageFetch(page, "GET", "manifest.webmanifest");
    assert.equal(manifest.status, 200);
    assert.equal(manifest.json.display, "standalone");
    for (const icon of manifest.json.icons) {
      const r = await page.evaluate(async (src) => {
        const res = await fetch(src);
        return { status: res.status, type: res.headers.get("content-type") };
      }, icon.src);
      assert.equal(r.status, 200, icon.src);
      assert.equal(r.type.split(";")[0], icon.type, icon.src);
    }
    await go(page, "home");
    await page.waitForSelector("#balances li");
    const cached = await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
      const cache = await caches.open("quipu-wallet-v1");
      for (;;) { // the install's cache.add()s, then the shell answers the page fetched since
        const keys = (await cache.keys()).map((r) => new URL(r.url).pathname);
        if (keys.some((k) => k.endsWith("/app.js"))) return keys;
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    assert.ok(cached.includes("/clients/js/quipu.mjs"), cached.join(" "));
    assert.ok(cached.every((k) => !k.startsWith("/v1/")), cached.join(" "));
    // Offline: the shell opens from the cache, no balance is shown, and the
    // customer reads why; back online, the session is still there.
    await alice.context.setOffline(true);
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    const notice = await page.waitForSelector('#notice[data-code="network_error"]');
    assert.equal(await notice.textContent(), MESSAGES.network_error);
    assert.equal(await page.$$eval("#balances li", (l) => l.length), 0);
    await shot(page, "offline-phone");
    await alice.context.setOffline(false);
    await page.reload();
    await page.waitForSelector("body[data-view=home]");
    await page.waitForSelector("#balances li");
  });

test("the pay code is fetched again before it expires, while the unlock lasts", async () => {
  const { page } = alice; // the last test: the page's clock is fake from here on
  await page.clock.install();
  await page.reload();
  await page.waitForSelector("body[data-view=home]");
  const asked = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && new URL(r.url()).pathname === "/v1/wallet/paycode") {
      asked.push(JSON.parse(r.postData() || "{}"));
    }
  });
  await go(page, "paycode");
  await page.click("#paycode-unlock");
  const first = await (await page.waitForSelector("#paycode-digits[data-code]"))
    .getAttribute("data-code");
  assert.match(first, /^\d{18}$/);
  assert.equal(asked.length, 1);
  assert.ok(asked[0].credential, "the first code needs the passkey's assertion");
  await page.clock.fastForward(61_000); // past any code's expiry (31..60 s)
  for (let i = 0; i < 200 && asked.length < 2; i++) {
    await new Promise((r) => setTimeout(r, 50)); // the test's clock, not the page's
  }
  assert.ok(asked.length >= 2, `${asked.length} POST /v1/wallet/paycode`);
  assert.equal(asked[1].credential, undefined, "a refresh within the unlock needs no passkey");
  assert.ok(await page.isVisible("#paycode-card"));
});
