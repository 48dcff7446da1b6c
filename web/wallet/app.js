// app.js - the wallet web app (docs/wallet-web.md): the
// session check, sign up / sign in with a passkey, the views behind the
// address's fragment (#/home, #/bills, #/bill/{id}, #/send, #/scan,
// #/paycode), the live updates (SSE) and the service worker.
import * as api from "./api.js";
import { $, h, notice, toast, busy } from "./ui.js";
import { state, set, onChange } from "./state.js";
import { billItem, showBills, showBill, initBills, counterparty } from "./bills.js";
import { initSheet, confirmSheet } from "./sheet.js";
import { initSend, refreshSend } from "./send.js";
import { initPaycode, leavePaycode } from "./paycode.js";
import { initScan, start as startScan, stop as stopScan } from "./scan.js";

const VIEWS = ["welcome", "home", "bills", "bill", "send", "scan", "paycode"];
let live = null;
let current = "";

function renderHome(s) {
  const ul = $("balances");
  ul.replaceChildren(...(s.me?.accounts || []).map((a) => h("li",
    { dataset: { account: a.id, ledger: String(a.ledger) } },
    h("span", { class: "currency", text: `${a.currency} · available` }),
    h("strong", { class: "balance", text: api.money(a.balance, a.currency) }),
    BigInt(a.pending || 0) > 0n
      ? h("small", { text: `${api.money(a.pending, a.currency)} on hold` }) : null)));
  $("recent").replaceChildren(...s.recent.slice(0, 8).map(billItem));
  $("recent-empty").hidden = s.recent.length > 0;
  if (s.me) {
    $("who").textContent = `${s.me.user.display_name} (@${s.me.user.handle})`;
    refreshSend();
  }
}

async function loadRecent() {
  const r = await api.bills({ limit: 8 });
  set({ recent: r.data });
}

// A bill event: replace the bill (status change) or put it first.
function onBill(b) {
  const recent = state.recent.filter((x) => x.id !== b.id);
  const isNew = recent.length === state.recent.length;
  set({ recent: [b, ...recent].sort((x, y) => y.time - x.time) });
  if (isNew && b.direction === "in") {
    toast(`Received ${api.money(b.amount, b.currency)} from ${counterparty(b)}.`);
  }
  const old = document.querySelector(`#bills-list [data-bill="${CSS.escape(b.id)}"]`);
  if (old) old.replaceWith(billItem(b));
}

// A payment waiting for this customer's passkey (a shop collected a pay code
// above its limit): the sheet, with what the order is for once it is read.
function onIntent(intent) {
  confirmSheet(intent, null, intent.order_id ? "Payment at the till" : "Payment");
  if (!intent.order_id) return;
  api.order(intent.order_id).then((o) => {
    if ($("sheet").dataset.intent === intent.id && o.description) {
      $("sheet-what").textContent = o.description;
    }
  }).catch(() => {});
}

function startLive() {
  live?.close();
  live = api.events((type, data) => {
    if (type === "bill") onBill(data);
    else if (type === "balance" && state.me) set({ me: { ...state.me, accounts: data } });
    else if (type === "intent" && data?.status === "requires_confirmation") onIntent(data);
  }, (err) => { if (err?.code === "session_required") signedOut(); });
}

// Me and the recent bills again (on coming back home, or to the tab): the
// live stream keeps them current, this catches up after a gap.
async function refresh() {
  try {
    const [me] = await Promise.all([api.me(), loadRecent()]);
    set({ me });
  } catch (err) {
    if (err.status === 401) signedOut();
  }
}

// Whether this browser had a session (localStorage, not the session: that
// is the HttpOnly cookie): without one the page shows the welcome at once
// and does not ask /v1/wallet/me.
const HINT = "quipu-wallet-signed-in";

function signedIn(me) {
  localStorage.setItem(HINT, "1");
  set({ me });
  $("logout").hidden = false;
  $("who").hidden = false;
  $("tabs").hidden = false;
  startLive();
  loadRecent().catch(notice);
  if (!location.hash || location.hash === "#/welcome") location.hash = "#/home";
  else route();
}

function signedOut() {
  localStorage.removeItem(HINT);
  live?.close();
  live = null;
  set({ me: null, recent: [] });
  $("logout").hidden = true;
  $("who").hidden = true;
  $("tabs").hidden = true;
  location.hash = "#/welcome";
  route();
}

function show(view) {
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  document.body.dataset.view = view;
  for (const a of document.querySelectorAll("#tabs a")) {
    if (a.dataset.tab === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function route() {
  const [, name = "home", arg] = location.hash.match(/^#\/([a-z]+)\/?(.*)$/) || [];
  let view = VIEWS.includes(name) ? name : "home";
  if (!state.me) view = "welcome";
  else if (view === "welcome") view = "home";
  if (current === "scan" && view !== "scan") stopScan();
  if (current === "paycode" && view !== "paycode") leavePaycode();
  notice(null);
  show(view);
  if (view === "home" && current && current !== "home") refresh();
  if (view === "bills") showBills();
  if (view === "bill") showBill(decodeURIComponent(arg));
  if (view === "scan") startScan();
  if (current && current !== view) {
    const title = $(`view-${view}`).querySelector("h1");
    title.tabIndex = -1;
    title.focus();
  }
  current = view;
}

async function onSignup(e) {
  e.preventDefault();
  const handle = $("signup-handle").value.trim().toLowerCase();
  const name = $("signup-name").value.trim();
  if (!$("signup-handle").checkValidity()) {
    notice("Please choose a handle of 2 to 32 lower-case letters, digits, dots, dashes or " +
      "underscores.");
    $("signup-handle").focus();
    return;
  }
  if (!name) { notice("Please type your name."); $("signup-name").focus(); return; }
  const me = await busy(e.submitter, () => api.signup(handle, name));
  if (me) signedIn(me);
}

async function onSignin(e) {
  const me = await busy(e.currentTarget, () => api.login());
  if (me) signedIn(me);
}

async function onLogout() {
  await api.logout().catch(() => {});
  signedOut();
}

async function boot() {
  initBills();
  initSheet();
  initSend();
  initPaycode();
  initScan();
  onChange(renderHome);
  $("signup-form").addEventListener("submit", onSignup);
  $("signin").addEventListener("click", onSignin);
  $("logout").addEventListener("click", onLogout);
  window.addEventListener("hashchange", route);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.me) refresh();
  });
  document.querySelector(".skip").addEventListener("click", (e) => {
    e.preventDefault();
    $("main").focus();
  });
  if (localStorage.getItem(HINT)) {
    $("view-welcome").hidden = true;
    try {
      signedIn(await api.me());
    } catch (err) {
      if (err.status === 401) {
        signedOut();
      } else { // offline or the node is down: the session may well be fine
        route();
        notice(err);
      }
    }
  } else {
    signedOut();
  }
  document.body.dataset.ready = "true";
  // The service worker after the page has loaded: its caching waits.
  const sw = () => navigator.serviceWorker?.register("sw.js").catch(() => {});
  if (document.readyState === "complete") setTimeout(sw, 1000);
  else window.addEventListener("load", () => setTimeout(sw, 1000), { once: true });
}

window.wallet = { api, state };
boot();
