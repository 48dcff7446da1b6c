// auth.test.mjs - issue 14's end-to-end test in a real browser: the demo
// page served by a real node (web/auth-demo/), Chromium with a DevTools
// virtual authenticator, and the node's API as the judge of whether money
// moved.  Register a passkey, pay (the ledger shows the hold posted), and
// the refusals (UV off, a bogus signature, the amount changed after the
// challenge, a replayed assertion, a counter rollback), each with its error
// code and the hold still pending.  Screenshots go to build/screens/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Node } from "./node.mjs";
import { SCREENS, clickFor, demoPage, launch } from "./browser.mjs";

const LEDGER = 840;
let node;
let browser;
let handles = 0;

before(async () => {
  node = await new Node().start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await node?.stop();
});

// A page whose user registered a passkey through the page, a payer and a merchant.
async function registered(t) {
  const d = await demoPage(browser, node);
  t.after(() => d.context.close());
  await d.page.fill("#handle", `user-${process.pid}-${++handles}`);
  const r = await clickFor(d.page, "#register-button", "#register-result");
  assert.equal(r.code, "registered", r.text);
  d.userId = await d.page.evaluate(() => window.authDemo.userId);
  [d.payer, d.merchant] = await node.accounts(LEDGER);
  return d;
}

async function intent(d, amount) {
  return node.ok("POST", "/v1/payment-intents", {
    user_id: d.userId, debit_account_id: d.payer, credit_account_id: d.merchant,
    amount: String(amount), ledger: LEDGER, currency: "USD", payee_name: "Coffee Shop",
    order_id: `order-${Date.now()}-${amount}`, expires_in_s: 600,
  });
}

// The payer's posted and pending debits, and the intent's status.
async function ledgerState(d, intentId) {
  const a = await node.account(d.payer);
  const i = await node.ok("GET", `/v1/payment-intents/${intentId}`);
  return { posted: a.debits_posted, pending: a.debits_pending, status: i.status };
}

async function assertHeld(d, intentId, amount, posted = "0") {
  assert.deepEqual(await ledgerState(d, intentId),
    { posted, pending: String(amount), status: "requires_confirmation" });
}

async function payInPage(d, intentId) {
  await d.page.fill("#intent-id", intentId);
  await d.page.evaluate((id) => window.authDemo.loadIntent(id), intentId);
  return clickFor(d.page, "#pay-button", "#pay-result");
}

// Runs authDemo's steps in the page; a refusal comes back as {status, json}.
function inPage(d, fn, arg) {
  return d.page.evaluate(fn, arg);
}

test("register a passkey, then pay: the ledger posts the hold", async (t) => {
  const d = await registered(t);
  const creds = await node.ok("GET", `/v1/users/${d.userId}/credentials`);
  assert.equal(creds.data.length, 1);
  const c = creds.data[0];
  assert.equal(c.flags.uv, true);
  assert.equal(c.flags.up, true);
  assert.deepEqual(c.transports, ["internal"]);
  const inAuthenticator = await d.cdp.send("WebAuthn.getCredentials",
    { authenticatorId: d.authenticatorId });
  assert.equal(inAuthenticator.credentials.length, 1);
  assert.equal(inAuthenticator.credentials[0].isResidentCredential, true);
  assert.equal(Buffer.from(inAuthenticator.credentials[0].credentialId, "base64")
    .toString("base64url"), c.id);
  await d.page.screenshot({ path: join(SCREENS, "auth-demo-register.png"), fullPage: true });

  const i = await intent(d, 1234);
  await assertHeld(d, i.id, 1234);
  const r = await payInPage(d, i.id);
  assert.equal(r.code, "succeeded", r.text);
  assert.equal(await d.page.textContent("#intent-amount"), "12.34 USD");
  assert.equal(await d.page.textContent("#intent-status"), "succeeded");
  await d.page.screenshot({ path: join(SCREENS, "auth-demo-pay.png"), fullPage: true });
  assert.deepEqual(await ledgerState(d, i.id),
    { posted: "1234", pending: "0", status: "succeeded" });
  assert.equal((await node.account(d.merchant)).credits_posted, "1234");
  const hold = await node.ok("GET", `/v1/transfers/${i.transfer_id}`);
  assert.ok(hold.flags.includes("pending"));
  const done = await node.ok("GET", `/v1/payment-intents/${i.id}`);
  assert.equal(done.credential_id, c.id);
  const post = await node.ok("GET", `/v1/transfers/${done.post_transfer_id}`);
  assert.equal(post.pending_id, i.transfer_id);
  assert.ok(post.flags.includes("post_pending_transfer"), JSON.stringify(post.flags));
  const after1 = (await node.ok("GET", `/v1/users/${d.userId}/credentials`)).data[0];
  assert.ok(after1.sign_count > c.sign_count, "the authenticator's counter moved forward");
});

test("UV off: the browser refuses, and a client that does not ask is refused", async (t) => {
  const d = await registered(t);
  const i = await intent(d, 500);
  await d.cdp.send("WebAuthn.setUserVerified",
    { authenticatorId: d.authenticatorId, isUserVerified: false });
  // The options say userVerification "required": Chromium itself gives up.
  let r = await payInPage(d, i.id);
  assert.equal(r.code, "NotAllowedError", r.text);
  await assertHeld(d, i.id, 500);
  // A client that drops the requirement gets an assertion without UV: the node refuses it.
  await d.page.evaluate(() => {
    window.authDemo.hooks.requestOptions = (o) => ({ ...o, userVerification: "discouraged" });
  });
  r = await payInPage(d, i.id);
  assert.equal(r.code, "user_verification_required", r.text);
  await d.page.screenshot({ path: join(SCREENS, "auth-demo-refused.png"), fullPage: true });
  await assertHeld(d, i.id, 500);
});

test("a bogus signature is refused", async (t) => {
  const d = await registered(t);
  const i = await intent(d, 600);
  await d.page.evaluate(() => {
    window.authDemo.hooks.assertion = (a) => {
      const sig = Uint8Array.from(atob(a.response.signature.replace(/-/g, "+")
        .replace(/_/g, "/")), (ch) => ch.charCodeAt(0));
      sig[sig.length - 1] ^= 0x01;
      const text = btoa(String.fromCharCode(...sig));
      a.response.signature = text.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      return a;
    };
  });
  const r = await payInPage(d, i.id);
  assert.equal(r.code, "signature_invalid", r.text);
  await assertHeld(d, i.id, 600);
});

test("the amount changed after the challenge: challenge_mismatch", async (t) => {
  const d = await registered(t);
  const small = await intent(d, 100);
  const large = await intent(d, 100000);
  const r = await inPage(d, async ([smallId, largeId]) => {
    const a = window.authDemo;
    const signedFor = await a.challenge(smallId); // the user saw and signed 1.00
    await a.challenge(largeId); // the payment the assertion is posted to is 1000.00
    return a.confirm(largeId, await a.sign(signedFor));
  }, [small.id, large.id]);
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, "challenge_mismatch");
  const s = await ledgerState(d, large.id);
  assert.deepEqual(s, { posted: "0", pending: "100100", status: "requires_confirmation" });
  assert.equal((await ledgerState(d, small.id)).status, "requires_confirmation");
});

test("a replayed assertion is refused", async (t) => {
  const d = await registered(t);
  const first = await intent(d, 700);
  assert.equal((await payInPage(d, first.id)).code, "succeeded");
  const second = await intent(d, 800);
  const r = await inPage(d, async ([firstId, secondId]) => {
    const a = window.authDemo;
    const used = a.lastAssertion;
    const again = await a.confirm(firstId, used); // the same intent
    await a.challenge(secondId);
    const elsewhere = await a.confirm(secondId, used); // another intent
    return [again, elsewhere];
  }, [first.id, second.id]);
  assert.deepEqual(r.map((x) => [x.status, x.json.error.code]),
    [[400, "challenge_used"], [400, "challenge_mismatch"]]);
  await assertHeld(d, second.id, 800, "700");
});

test("a counter rollback (a cloned authenticator) is refused", async (t) => {
  const d = await registered(t);
  const first = await intent(d, 10);
  assert.equal((await payInPage(d, first.id)).code, "succeeded");
  const stored = (await node.ok("GET", `/v1/users/${d.userId}/credentials`)).data[0];
  assert.ok(stored.sign_count >= 1);
  // The same key on an authenticator whose counter is behind: a clone.
  const { credentials } = await d.cdp.send("WebAuthn.getCredentials",
    { authenticatorId: d.authenticatorId });
  const clone = { ...credentials[0], signCount: 0 };
  await d.cdp.send("WebAuthn.removeCredential",
    { authenticatorId: d.authenticatorId, credentialId: clone.credentialId });
  await d.cdp.send("WebAuthn.addCredential",
    { authenticatorId: d.authenticatorId, credential: clone });
  const second = await intent(d, 20);
  const r = await payInPage(d, second.id);
  assert.equal(r.code, "sign_count_regressed", r.text);
  await assertHeld(d, second.id, 20, "10");
  const now = (await node.ok("GET", `/v1/users/${d.userId}/credentials`)).data[0];
  assert.equal(now.sign_count, stored.sign_count);
});
