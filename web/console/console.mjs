// web/console/console.mjs - the operator console: sign in with an admin API key (kept in
// sessionStorage; the demo's #key= fragment is read and removed from the address bar), then
// tabs (keyboard: arrows, Home, End) for the ledger, payments, risk and, when the node runs a
// chain, the chain. Each tab's module loads its data the first time it is shown.
import { Api, sentence, takeFragment } from "/common/api.mjs";
import * as ledger from "./ledger.mjs";
import * as payments from "./payments.mjs";
import * as risk from "./risk.mjs";
import * as chain from "./chain.mjs";
import { wrapAll } from "./view.mjs";

const $ = (id) => document.getElementById(id);
const TABS = { ledger, payments, risk, chain };
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

async function signIn(key) {
  const api = new Api({ apiKey: key });
  await api.request("GET", "/v1/audit");
  ctx.api = api;
  sessionStorage.setItem("console.key", key);
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

async function start() {
  wrapAll();
  const key = takeFragment().get("key") || sessionStorage.getItem("console.key");
  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    say("");
    try { await signIn($("key").value.trim()); } catch (e) { say(sentence(e)); }
  });
  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem("console.key");
    location.reload();
  });
  for (const t of document.querySelectorAll('[role="tab"]'))
    t.addEventListener("click", () => select(t.id.slice(4)));
  document.querySelector('[role="tablist"]').addEventListener("keydown", tabKeys);
  if (key) {
    try { await signIn(key); } catch (e) {
      say(sentence(e));
      sessionStorage.removeItem("console.key");
      $("signin").hidden = false;
    }
  } else {
    $("signin").hidden = false;
  }
  document.body.dataset.ready = "true";
}

start();
