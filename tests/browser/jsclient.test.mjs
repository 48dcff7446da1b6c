// jsclient.test.mjs - the JS client (clients/js/quipu.mjs) in a real browser:
// Chromium loads the module from the node that serves the page, and with a
// DevTools virtual authenticator the webauthn helpers run against the real
// navigator.credentials: a passkey registered (creationOptionsFromJSON ->
// create -> credentialToJSON -> the node's verify) and a payment intent
// confirmed with it (requestOptionsFromJSON -> get -> credentialToJSON), the
// money moved on the ledger; QuipuError and toMinor/toMajor in the page.
// The page imports /clients/js/quipu.mjs where the web module serves it
// (modules.web.clients, default <root>/../clients/js: a copy here), else the
// copy beside the page (/web/jsclient/quipu.mjs) on a node that does not yet.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Node, REPO } from "./node.mjs";
import { AUTHENTICATOR, launch } from "./browser.mjs";

// The page and its script (a file of its own: the web module's CSP allows no inline script).
const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>quipu.mjs</title>
</head><body><script type="module" src="./main.mjs"></script></body></html>
`;
const MAIN = `let quipu;
try {
  quipu = await import("/clients/js/quipu.mjs");
  document.body.dataset.from = "clients";
} catch {
  quipu = await import("./quipu.mjs");
  document.body.dataset.from = "web";
}
window.quipu = quipu;
document.body.dataset.ready = "true";
`;

let node;
let browser;
let top;
before(async () => {
  node = new Node();
  // top/web: a web root holding one app, "jsclient" (this page and a copy of
  // the client); top/clients/js: the client where the web module looks for it.
  top = mkdtempSync(join(tmpdir(), "quipu-jsclient-web-"));
  const root = join(top, "web");
  mkdirSync(join(root, "jsclient"), { recursive: true });
  mkdirSync(join(top, "clients", "js"), { recursive: true });
  writeFileSync(join(root, "jsclient", "index.html"), PAGE);
  writeFileSync(join(root, "jsclient", "main.mjs"), MAIN);
  copyFileSync(join(REPO, "clients/js/quipu.mjs"), join(root, "jsclient", "quipu.mjs"));
  copyFileSync(join(REPO, "clients/js/quipu.mjs"), join(top, "clients", "js", "quipu.mjs"));
  const configPath = join(node.home, "node.json");
  const config = JSON.parse(readFileSync(configPath, "utf8"));
  config.modules.web.root = root;
  writeFileSync(configPath, JSON.stringify(config));
  await node.start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await node?.stop();
  if (top) rmSync(top, { recursive: true, force: true });
});

test("webauthn helpers with a real navigator.credentials: register, then pay", async (t) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", { options: AUTHENTICATOR });
  await page.goto(`${node.origin}/web/jsclient/index.html`);
  await page.waitForSelector("body[data-ready=true]", { state: "attached" });
  const from = await page.evaluate(() => document.body.dataset.from);
  t.diagnostic(`quipu.mjs loaded from /${from === "clients" ? "clients/js" : "web/jsclient"}/`);
  if (process.env.QUIPU_EXPECT_CLIENTS) assert.equal(from, "clients");
  const [payer, payee] = await node.accounts(840);
  await node.ok("POST", "/v1/transfers", [{ id: String(Date.now()), debit_account_id: payee,
    credit_account_id: payer, amount: "5000", ledger: 840, code: 1 }]);
  const out = await page.evaluate(async ({ key, payer, payee }) => {
    const { Quipu, QuipuError, webauthn, toMinor, toMajor } = window.quipu;
    const q = new Quipu({ apiKey: key, fetch: window.fetch }); // an unbound fetch works
    const user = await q.auth.createUser({ handle: `web${Date.now()}`, display_name: "Web" });
    const opts = await q.auth.registerOptions(user.id);
    const reg = await webauthn.create(opts.publicKey);
    const cred = await q.auth.registerVerify(opts.ceremony, reg);
    const intent = await q.auth.createIntent({ user_id: user.id, debit_account_id: payer,
      credit_account_id: payee, amount: toMinor("12.34", "USD"), ledger: 840, currency: "USD",
      payee_name: "Coffee", order_id: `o${Date.now()}`, expires_in_s: 600 });
    const ch = await q.auth.challenge(intent.id);
    const assertion = await webauthn.get(ch.publicKey);
    const done = await q.auth.confirm(intent.id, assertion);
    const err = await q.auth.confirm(intent.id, assertion).catch((e) => e);
    return { regKeys: Object.keys(reg.response).sort(), credId: cred.id, regId: reg.id,
      hasUserHandle: typeof assertion.response.userHandle === "string",
      status: done.status, amount: toMajor(done.amount, done.currency),
      err: { isQuipu: err instanceof QuipuError, status: err.status, code: err.code,
        requestId: typeof err.requestId === "string" } };
  }, { key: node.key, payer, payee });
  assert.equal(out.credId, out.regId);
  for (const k of ["attestationObject", "clientDataJSON"]) assert.ok(out.regKeys.includes(k));
  assert.ok(out.hasUserHandle);
  assert.equal(out.status, "succeeded");
  assert.equal(out.amount, "12.34");
  assert.deepEqual(out.err, { isQuipu: true, status: 400, code: "challenge_used",
    requestId: true });
  assert.equal((await node.account(payee)).credits_posted, "1234");
  await context.close();
});
