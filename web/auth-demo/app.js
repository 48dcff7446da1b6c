// app.js - the passkey demo page of the auth module (docs/auth.md, "The demo page").
//
// Registration: POST /v1/users, POST /v1/webauthn/register/options, then
// navigator.credentials.create() with the options passed through
// PublicKeyCredential.parseCreationOptionsFromJSON(), and credential.toJSON()
// posted unchanged to /v1/webauthn/register/verify.
// Payment: POST /v1/payment-intents/{id}/challenge, navigator.credentials.get()
// with parseRequestOptionsFromJSON(), credential.toJSON() posted unchanged to
// /v1/payment-intents/{id}/confirm.
//
// The API key is read from the address's fragment (#key=qpk_…&intent=…): a
// fragment never reaches a server.  window.authDemo exposes each step, and two
// hooks the browser tests use to play a misbehaving client (hooks.requestOptions
// rewrites the request options before the authenticator sees them,
// hooks.assertion rewrites the assertion before it is posted).

const params = new URLSearchParams(location.hash.slice(1));
const apiKey = params.get("key") || "";

async function api(method, path, body) {
  const init = { method, headers: { Authorization: `Bearer ${apiKey}` } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const json = await r.json();
  return { status: r.status, json };
}

class ApiError extends Error {
  constructor(reply) {
    const e = reply.json.error || {};
    super(`${reply.status} ${e.code}: ${e.message}`);
    this.status = reply.status;
    this.code = e.code;
  }
}

async function ok(reply) {
  if (reply.status !== 200) throw new ApiError(reply);
  return reply.json;
}

async function register(handle, displayName) {
  const user = await ok(await api("POST", "/v1/users", { handle, display_name: displayName }));
  const o = await ok(await api("POST", "/v1/webauthn/register/options", { user_id: user.id }));
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(o.publicKey);
  const credential = await navigator.credentials.create({ publicKey });
  const stored = await ok(await api("POST", "/v1/webauthn/register/verify",
    { ceremony: o.ceremony, credential: credential.toJSON() }));
  return { user, credential: stored };
}

// The amount in major units, by the currency's decimals (BigInt: no float).
function formatAmount(minor, currency) {
  const digits = new Intl.NumberFormat("en", { style: "currency", currency })
    .resolvedOptions().maximumFractionDigits;
  const s = BigInt(minor).toString().padStart(digits + 1, "0");
  const major = digits ? `${s.slice(0, -digits)}.${s.slice(-digits)}` : s;
  return `${major} ${currency}`;
}

async function loadIntent(id) {
  const intent = await ok(await api("GET", `/v1/payment-intents/${id}`));
  document.getElementById("intent-amount").textContent =
    formatAmount(intent.amount, intent.currency);
  document.getElementById("intent-payee").textContent = intent.payee_name;
  document.getElementById("intent-order").textContent = intent.order_id;
  document.getElementById("intent-status").textContent = intent.status;
  return intent;
}

async function challenge(intentId) {
  const c = await ok(await api("POST", `/v1/payment-intents/${intentId}/challenge`, {}));
  return c.publicKey;
}

async function sign(requestOptionsJSON) {
  const json = authDemo.hooks.requestOptions(structuredClone(requestOptionsJSON));
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(json);
  const credential = await navigator.credentials.get({ publicKey });
  return credential.toJSON();
}

async function confirm(intentId, assertion) {
  authDemo.lastAssertion = assertion;
  return api("POST", `/v1/payment-intents/${intentId}/confirm`, { credential: assertion });
}

async function pay(intentId) {
  const assertion = authDemo.hooks.assertion(await sign(await challenge(intentId)));
  return ok(await confirm(intentId, assertion));
}

function show(id, good, text, code) {
  const out = document.getElementById(id);
  out.className = good ? "ok" : "error";
  out.textContent = text;
  out.dataset.code = code || "";
}

async function onRegister() {
  const handle = document.getElementById("handle").value;
  const name = document.getElementById("display-name").value;
  try {
    const { user, credential } = await register(handle, name);
    authDemo.userId = user.id;
    show("register-result", true,
      `Passkey registered for ${user.handle}: ${credential.fmt}, alg ${credential.alg}, ` +
      `user verified ${credential.flags.uv}`, "registered");
  } catch (e) {
    show("register-result", false, `Registration refused: ${e.message}`, e.code || e.name);
  }
}

async function onPay() {
  const id = document.getElementById("intent-id").value;
  try {
    const done = await pay(id);
    await loadIntent(id);
    show("pay-result", true, `Paid: transfer ${done.transfer_id} posted`, done.status);
  } catch (e) {
    await loadIntent(id).catch(() => {});
    show("pay-result", false, `Payment refused: ${e.message}`, e.code || e.name);
  }
}

const authDemo = {
  api, register, loadIntent, challenge, sign, confirm, pay, formatAmount,
  hooks: { requestOptions: (o) => o, assertion: (a) => a },
  lastAssertion: null,
  userId: null,
};
window.authDemo = authDemo;

document.getElementById("register-button").addEventListener("click", onRegister);
document.getElementById("pay-button").addEventListener("click", onPay);
document.getElementById("intent-id").addEventListener("change", (e) => {
  loadIntent(e.target.value).catch((err) => show("pay-result", false, err.message, err.code));
});
if (params.get("intent")) {
  document.getElementById("intent-id").value = params.get("intent");
  loadIntent(params.get("intent")).catch((e) => show("pay-result", false, e.message, e.code));
}
document.body.dataset.ready = "true";
