// web/console/console.mjs - the operator console: sign in with an operator passkey (POST
// /v1/operators/login/options and /verify mint a console key of scope admin that expires; signing
// out revokes it) or with an admin API key (the demo's #key= fragment is read and removed from the
// address bar). The key is kept in sessionStorage (this tab only). Then tabs (keyboard: arrows,
// Home, End) for the ledger, payments, risk, operators and, when the node runs a chain, the
// chain. Each tab's module loads its data the first time it is shown.
import { webauthn } from "/clients/js/quipu.mjs";
import { Api, sentence, takeFragment } from "/common/api.mjs";
import * as ledger from "./ledger.mjs";
import * as payments from "./payments.mjs";
import * as risk from "./risk.mjs";
import * as chain from "./chain.mjs";
import * as operators from "./operators.mjs";
import { when, wrapAll } from "./view.mjs";

const $ = (id) => document.getElementById(id);
const TABS = { ledger, payments, risk, operators, chain };
const ctx = { api: null, say, $ };
const loaded = new Set();

function say(text) { $("message").textContent = text || ""; }

// Runs an async action, showing its failure as a sentence (and returning undefined).
ctx.run = async (fn) => {
  try {
    return await fn();
  } catch (e) {
    say(sentence(e));
    return undefined;
  }
};

function select(name, focus) {
  for (const t of document.querySelectorAll('[role="tab"]')) {
    const on = t.id === `tab-${name}`;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute("aria-controls")).hidden = !on;
    if (on && focus) t.focus();
  }
  say("");
  document.body.dataset.tab = name;
  if (!loaded.has(name)) {
    loaded.add(name);
    TABS[name].load(ctx);
  }
}

function tabKeys(ev) {
  const tabs = [...document.querySelectorAll('[role="tab"]')].filter((t) => !t.hidden);
  const i = tabs.indexOf(document.activeElement);
  if (i < 0) return;
  const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
  if (to === undefined) return;
  ev.preventDefault();
  select(tabs[(to + tabs.length) % tabs.length].id.slice(4), true);
}

// session: {operator, expires_at} for a passkey's console key, else null (an API key).
async function signIn(key, session = null) {
  const api = new Api({ apiKey: key });
  await api.request("GET", "/v1/audit");
  ctx.api = api;
  sessionStorage.setItem("console.key", key);
  if (session) sessionStorage.setItem("console.session", JSON.stringify(session));
  showSession(session || JSON.parse(sessionStorage.getItem("console.session") || "null"));
  $("signin").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  for (const m of Object.values(TABS)) m.init(ctx);
  chain.available(ctx).then((yes) => {
    $("tab-chain").hidden = !yes;
    document.body.dataset.chain = yes ? "yes" : "no";
  });
  select("ledger");
}

function showSession(session) {
  const p = $("session");
  p.hidden = !session;
  p.textContent = session
    ? `Signed in as operator ${session.operator} with a passkey, until ${when(session.expires_at)}.`
    : "";
  document.body.dataset.operator = session ? session.operator : "";
}

// The passkey ceremony: options (for a named operator, or any discoverable passkey), the
// authenticator's assertion, and the console key the node mints for it.
async function passkeySignIn(name) {
  const anon = new Api();
  const o = await anon.request("POST", "/v1/operators/login/options",
    { body: name ? { name } : {} });
  let credential;
  try {
    credential = await webauthn.get(o.publicKey);
  } catch (e) {
    say("The passkey was not used: the authenticator was cancelled or has no passkey for this console.");
    return;
  }
  const s = await anon.request("POST", "/v1/operators/login/verify",
    { body: { ceremony_id: o.ceremony_id, credential } });
  await signIn(s.key, { operator: s.operator, expires_at: s.expires_at });
}

// Signing out forgets the key; a passkey's console key is revoked first (an API key is not).
async function signOut() {
  if (ctx.api && sessionStorage.getItem("console.session")) {
    try { await ctx.api.request("POST", "/v1/operators/logout", { body: {} }); } catch (e) {
      /* expired or revoked already: nothing left to end */
    }
  }
  sessionStorage.removeItem("console.key");
  sessionStorage.removeItem("console.session");
  location.reload();
}

async function start() {
  wrapAll();
  const given = takeFragment().get("key");
  if (given) sessionStorage.removeItem("console.session"); // an API key, not a passkey's
  const key = given || sessionStorage.getItem("console.key");
  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    say("");
    sessionStorage.removeItem("console.session");
    try { await signIn($("key").value.trim()); } catch (e) { say(sentence(e)); }
  });
  $("passkey-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    say("");
    try { await passkeySignIn($("operator-name").value.trim()); } catch (e) { say(sentence(e)); }
  });
  $("signout").addEventListener("click", () => { signOut(); });
  for (const t of document.querySelectorAll('[role="tab"]'))
    t.addEventListener("click", () => select(t.id.slice(4)));
  document.querySelector('[role="tablist"]').addEventListener("keydown", tabKeys);
  if (key) {
    try { await signIn(key); } catch (e) {
      say(sentence(e));
      sessionStorage.removeItem("console.key");
      sessionStorage.removeItem("console.session");
      $("signin").hidden = false;
    }
  } else {
    $("signin").hidden = false;
  }
  document.body.dataset.ready = "true";
}

start();
