// auth.test.mjs - q.auth and webauthn against a real node: a user registers
// a passkey (the software authenticator through webauthn.*FromJSON and
// credentialToJSON, as a page does), payment intents are created,
// challenged, confirmed, cancelled; the risk review (approve / decline).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Quipu, QuipuError, webauthn } from "../quipu.mjs";
import { Node, newId } from "../test-support/node.mjs";
import { SoftAuthenticator } from "../test-support/authenticator.mjs";

let node;
let q;
let passkey;
let user;
let payer;
let payee;
before(async () => {
  node = await new Node().start();
  q = new Quipu({ baseUrl: node.url, apiKey: node.key });
  passkey = new SoftAuthenticator(node.url);
  [payer, payee] = [newId(), newId()];
  const bank = newId();
  await q.ledger.createAccounts([payer, payee, bank].map((id) => ({ id, ledger: 840, code: 1 })));
  await q.ledger.createTransfers([{ id: newId(), debit_account_id: bank, credit_account_id: payer,
    amount: "100000000", ledger: 840, code: 1 }]);
});
after(() => node.stop());

test("a user registers a passkey through the webauthn helpers", async () => {
  user = await q.auth.createUser({ handle: `alice${newId()}`, display_name: "Alice" });
  assert.match(user.id, /^[0-9a-f]{32}$/);
  const opts = await q.auth.registerOptions(user.id);
  const pk = webauthn.creationOptionsFromJSON(opts.publicKey);
  assert.ok(pk.challenge instanceof Uint8Array && pk.challenge.length === 32);
  assert.deepEqual(webauthn.bytesToBase64url(pk.user.id), opts.publicKey.user.id);
  const json = webauthn.credentialToJSON(await passkey.create({ publicKey: pk }));
  assert.equal(json.rawId, json.id);
  assert.deepEqual(json.response.transports, ["internal"]);
  assert.equal(json.response.publicKeyAlgorithm, -7);
  const cred = await q.auth.registerVerify(opts.ceremony, json);
  assert.equal(cred.id, json.id);
  assert.equal(cred.user_id, user.id);
  const list = await q.auth.credentials(user.id);
  assert.deepEqual(list.data.map((c) => c.id), [json.id]);
  // The same ceremony again: refused, with the node's code.
  const again = await q.auth.registerVerify(opts.ceremony, json).catch((e) => e);
  assert.ok(again instanceof QuipuError);
  assert.equal(again.code, "challenge_used");
});

function intent(amount, extra = {}) {
  return q.auth.createIntent({ user_id: user.id, debit_account_id: payer,
    credit_account_id: payee, amount, ledger: 840, currency: "USD", payee_name: "Coffee",
    order_id: `A-${newId()}`,
    expires_in_s: 600, ...extra });
}

test("an intent challenged and confirmed with the passkey; another cancelled", async () => {
  const it = await intent("1234");
  assert.equal(it.status, "requires_confirmation");
  assert.equal((await q.auth.getIntent(it.id)).amount, "1234");
  const ch = await q.auth.challenge(it.id);
  const cred = await webauthn.get(ch.publicKey, { credentials: passkey });
  assert.ok(cred.response.signature && cred.response.userHandle);
  const done = await q.auth.confirm(it.id, cred);
  assert.equal(done.status, "succeeded");
  assert.equal((await q.ledger.getAccount(payee)).credits_posted, "1234");
  // A replayed assertion is refused, nothing moves.
  const replay = await q.auth.confirm(it.id, cred).catch((e) => e);
  assert.equal(replay.status, 400);
  assert.equal(replay.code, "challenge_used");

  const other = await intent("50");
  assert.equal((await q.auth.cancel(other.id)).status, "canceled");
  const late = await q.auth.challenge(other.id).catch((e) => e);
  assert.equal(late.status, 409);
  assert.equal(late.code, "payment_intent_not_confirmable");
  const bad = await intent("0").catch((e) => e);
  assert.equal(bad.status, 400);
  assert.equal(bad.path, "amount");
});

test("risk review: approve lets the payer confirm, decline voids the hold", async () => {
  const a = await intent("1000000");
  assert.equal(a.status, "requires_review");
  assert.equal(a.risk.decision, "review");
  const blocked = await q.auth.challenge(a.id).catch((e) => e);
  assert.equal(blocked.code, "payment_intent_in_review");
  const ok = await q.auth.approve(a.id, "known customer");
  assert.equal(ok.status, "requires_confirmation");
  assert.equal(ok.review.note, "known customer");
  const cred = await webauthn.get((await q.auth.challenge(a.id)).publicKey,
    { credentials: passkey });
  assert.equal((await q.auth.confirm(a.id, cred)).status, "succeeded");

  const d = await intent("2000000");
  const no = await q.auth.decline(d.id);
  assert.equal(no.status, "canceled");
  assert.equal(no.review.outcome, "declined");
});

test("listIntents (GET /v1/payment-intents) when the node has it", async (t) => {
  const r = await q.auth.listIntents({ limit: 2 }).catch((e) => e);
  if (r instanceof QuipuError && (r.status === 404 || r.status === 405)) {
    t.skip(`this node has no GET /v1/payment-intents yet (${r.status} ${r.code})`);
    return;
  }
  assert.ok(Array.isArray(r.data));
  const seen = [];
  for await (const x of q.paginate("/v1/payment-intents", { limit: 2 })) seen.push(x.id);
  assert.ok(seen.length >= 4, `saw ${seen.length}`);
  assert.equal(new Set(seen).size, seen.length);
});

test("an operator enrolls a passkey, signs in with it and signs out", async () => {
  const console_ = new SoftAuthenticator(node.url);
  const name = `ops${newId().slice(-6)}`;
  const opts = await q.auth.operatorPasskeyOptions(name);
  const made = webauthn.credentialToJSON(await console_.create(
    { publicKey: webauthn.creationOptionsFromJSON(opts.publicKey) }));
  const enrolled = await q.auth.operatorPasskeyVerify(opts.ceremony_id, made);
  assert.equal(enrolled.operator, name);
  const page = await q.auth.listOperators({ limit: 100 });
  assert.ok(page.data.some((o) => o.name === name && o.passkeys.length === 1));
  const anon = new Quipu({ baseUrl: node.url });
  const login = await anon.auth.operatorLoginOptions(name);
  const got = webauthn.credentialToJSON(await console_.get(
    { publicKey: webauthn.requestOptionsFromJSON(login.publicKey) }));
  const session = await anon.auth.operatorLoginVerify(login.ceremony_id, got);
  assert.equal(session.operator, name);
  const op = new Quipu({ baseUrl: node.url, apiKey: session.key });
  assert.ok((await op.ledger.audit()).invariant_ok !== undefined);
  assert.deepEqual(await op.auth.operatorLogout(), { revoked: true });
  let status = 200; // the core re-reads the key file within 200 ms of a revocation
  for (let i = 0; i < 40 && status === 200; i++) {
    status = await op.ledger.audit().then(() => 200, (e) => e.status);
    if (status === 200) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(status, 401);
  // The same assertion again: a replay is refused.
  await assert.rejects(() => anon.auth.operatorLoginVerify(login.ceremony_id, got),
    (e) => e instanceof QuipuError && e.status === 400);
  await q.auth.deleteOperator(name);
});
