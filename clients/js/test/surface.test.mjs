// surface.test.mjs - the binding surface of /work/briefs/jsclient-api.md is
// there (every namespace method a function), and every method the types in
// quipu.d.mts declare exists at run time, so the two cannot drift apart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as mod from "../quipu.mjs";

const CONTRACT = {
  ledger: "createAccounts createTransfers getAccount getTransfer accountTransfers " +
    "accountBalances lookupAccounts lookupTransfers queryAccounts queryTransfers audit",
  auth: "createUser registerOptions registerVerify createIntent getIntent listIntents challenge " +
    "confirm cancel approve decline",
  payments: "createMerchant getMerchant createMerchantKey createOrder getOrder listOrders " +
    "cancelOrder orderQrSvg collect createRefund getRefund listRefunds createWebhook " +
    "listWebhooks deliveries parseQr enrollDevice deviceCode",
  risk: "decide getRuleset putRuleset shadow lists list updateList rules snooze unsnooze " +
    "changes stats decisions",
  chain: "status block tx query",
  wallet: "signupOptions signupVerify loginOptions loginVerify logout me bills bill user " +
    "transfer intent challenge confirmIntent cancelIntent scan order payOrder paycodeUnlock " +
    "paycode events",
};

test("the contract's exports and methods", () => {
  for (const name of ["Quipu", "QuipuError", "toMajor", "toMinor", "webauthn"]) {
    assert.ok(mod[name], name);
  }
  for (const f of ["creationOptionsFromJSON", "requestOptionsFromJSON", "credentialToJSON"]) {
    assert.equal(typeof mod.webauthn[f], "function", f);
  }
  const q = new mod.Quipu();
  for (const f of ["request", "paginate", "events"]) assert.equal(typeof q[f], "function", f);
  for (const [ns, names] of Object.entries(CONTRACT)) {
    for (const m of names.split(" ")) assert.equal(typeof q[ns][m], "function", `${ns}.${m}`);
  }
});

test("every method declared in quipu.d.mts exists", () => {
  const dts = readFileSync(new URL("../quipu.d.mts", import.meta.url), "utf8");
  const q = new mod.Quipu();
  const classes = { Ledger: "ledger", Auth: "auth", Payments: "payments", Risk: "risk",
    Chain: "chain", Wallet: "wallet" };
  let checked = 0;
  for (const [cls, ns] of Object.entries(classes)) {
    const body = dts.match(new RegExp(`declare class ${cls} \\{([\\s\\S]*?)\\n\\}`))[1];
    for (const [, m] of body.matchAll(/^ {2}([a-zA-Z]+)\(/gm)) {
      assert.equal(typeof q[ns][m], "function", `${ns}.${m}`);
      checked++;
    }
  }
  assert.ok(checked > 80, `${checked} methods checked`);
});

test("webauthn: base64url round trip, options to buffers, credential to JSON", () => {
  const { webauthn } = mod;
  const bytes = new Uint8Array([0, 1, 2, 250, 251, 252, 253, 254, 255]);
  const text = webauthn.bytesToBase64url(bytes);
  assert.equal(text, "AAEC-vv8_f7_");
  assert.deepEqual(webauthn.base64urlToBytes(text), bytes);
  assert.deepEqual(webauthn.base64urlToBytes("AAEC-vv8_f7_=="), bytes);
  assert.throws(() => webauthn.base64urlToBytes("a+b/"), TypeError);
  const o = webauthn.requestOptionsFromJSON({ challenge: "AQID", rpId: "localhost",
    allowCredentials: [{ type: "public-key", id: "BAU", transports: ["internal"] }] });
  assert.deepEqual([...o.challenge], [1, 2, 3]);
  assert.deepEqual([...o.allowCredentials[0].id], [4, 5]);
  assert.equal(o.allowCredentials[0].transports[0], "internal");
  assert.equal(o.rpId, "localhost");
  const c = webauthn.creationOptionsFromJSON({ challenge: "AQID", rp: { name: "q" },
    user: { id: "BwgJ", name: "a", displayName: "A" }, pubKeyCredParams: [] });
  assert.deepEqual([...c.user.id], [7, 8, 9]);
  assert.equal(c.excludeCredentials, undefined);
  const buf = (a) => new Uint8Array(a).buffer;
  const j = webauthn.credentialToJSON({ id: "AQ", rawId: buf([1]), type: "public-key",
    getClientExtensionResults: () => ({}),
    response: { clientDataJSON: buf([2]), authenticatorData: buf([3]), signature: buf([4]),
      userHandle: null } });
  assert.deepEqual(j, { id: "AQ", rawId: "AQ", type: "public-key", clientExtensionResults: {},
    response: { clientDataJSON: "Ag", authenticatorData: "Aw", signature: "BA" } });
});
