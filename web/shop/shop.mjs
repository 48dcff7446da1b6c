// web/shop/shop.mjs - the demo shop: a merchant key (from #key=…&merchant=… or the sign-in
// form, kept in sessionStorage) creates orders, shows the QR code, turns to "paid" live (SSE
// GET /v1/orders/{id}/events when the node has it, else polling GET /v1/orders/{id} every
// second), collects a customer's payment code and refunds.
import { Api, el, sentence, takeFragment, toMajor, toMinor, sse } from "/common/api.mjs";

const CATALOGUE = [
  { sku: "coffee", name: "Coffee", price: 350 },
  { sku: "croissant", name: "Croissant", price: 275 },
  { sku: "tea", name: "Green tea", price: 300 },
  { sku: "sandwich", name: "Sandwich", price: 650 },
];
const $ = (id) => document.getElementById(id);
const state = { api: null, merchant: null, qty: {}, order: null, watch: null, qrUrl: null };

function say(text) { $("message").textContent = text || ""; }
function note(text) { $("order-note").textContent = text || ""; }

function money(minor) { return toMajor(minor, state.merchant.currency); }

async function signIn(key, merchantId) {
  const api = new Api({ apiKey: key });
  state.merchant = await api.request("GET", `/v1/merchants/${merchantId}`);
  state.api = api;
  sessionStorage.setItem("shop.key", key);
  sessionStorage.setItem("shop.merchant", merchantId);
  $("merchant-name").textContent = state.merchant.name;
  $("signin").hidden = true;
  $("signout").hidden = false;
  $("shop").hidden = false;
  renderCatalogue();
}

function total() {
  return CATALOGUE.reduce((s, i) => s + BigInt(i.price) * BigInt(state.qty[i.sku] || 0), 0n);
}

function renderCatalogue() {
  const ul = $("catalogue");
  ul.replaceChildren(...CATALOGUE.map((item) => {
    const out = el("output", { id: `qty-${item.sku}`, "aria-live": "polite" },
      String(state.qty[item.sku] || 0));
    const change = (d) => () => {
      state.qty[item.sku] = Math.max(0, (state.qty[item.sku] || 0) + d);
      out.textContent = String(state.qty[item.sku]);
      updateTotal();
    };
    return el("li", {},
      el("span", {}, el("span", { class: "name" }, item.name), " ",
        el("span", { class: "muted" }, `${money(item.price)} ${state.merchant.currency}`)),
      el("span", { class: "qty" },
        el("button", { type: "button", class: "secondary", "aria-label": `One less ${item.name}`,
          onclick: change(-1) }, "−"),
        out,
        el("button", { type: "button", class: "secondary", "aria-label": `One more ${item.name}`,
          id: `add-${item.sku}`, onclick: change(1) }, "+")));
  }));
  updateTotal();
}

function updateTotal() {
  $("total").textContent = `${money(total())} ${state.merchant.currency}`;
  $("create").disabled = total() === 0n;
}

async function createOrder() {
  say("");
  const items = CATALOGUE.filter((i) => state.qty[i.sku] > 0);
  const description = items.map((i) => `${state.qty[i.sku]} × ${i.name}`).join(", ");
  const m = state.merchant;
  const order = await state.api.request("POST", "/v1/orders", { body: {
    merchant_id: m.id, amount: total().toString(), ledger: m.ledger, currency: m.currency,
    description, reference: `SHOP-${Date.now().toString(36).toUpperCase()}`.slice(0, 25) } });
  await showOrder(order);
  $("order-title").focus();
  $("order").scrollIntoView({ block: "start" });
  const svg = await state.api.text("GET", `/v1/orders/${order.id}/qr.svg`);
  if (state.qrUrl) URL.revokeObjectURL(state.qrUrl);
  state.qrUrl = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
  $("qr").src = state.qrUrl;
  watch(order.id);
}

async function showOrder(order) {
  state.order = order;
  $("order").hidden = false;
  $("order-amount").textContent = money(order.amount);
  $("order-currency").textContent = order.currency;
  $("order-id").textContent = `Order ${order.id}`;
  const s = $("order-status");
  s.textContent = order.status.replace(/_/g, " ");
  s.className = `badge ${order.status}`;
  document.body.dataset.orderStatus = order.status;
  const paid = ["paid", "partially_refunded", "refunded"].includes(order.status);
  $("collect-form").hidden = order.status !== "open";
  $("refund-form").hidden = !paid || order.status === "refunded";
  $("qr").closest("figure").hidden = order.status !== "open";
  if (paid && !$("refund-amount").value) {
    const left = BigInt(order.amount) - BigInt(order.amount_refunded || 0);
    $("refund-amount").value = money(left);
  }
  if (!["open", "requires_confirmation"].includes(order.status)) $("order-live").textContent = "";
  if (order.status === "paid") note("Paid. Thank you!");
  if (order.status === "requires_confirmation") note("Waiting for the customer to confirm on the phone.");
}

function stopWatch() {
  if (state.watch) state.watch();
  state.watch = null;
}

async function refresh(id) {
  try {
    const o = await state.api.request("GET", `/v1/orders/${id}`);
    if (state.order && state.order.id === id) await showOrder(o);
    return o;
  } catch (e) {
    say(sentence(e));
    return null;
  }
}

async function watch(id) {
  stopWatch();
  const ctl = new AbortController();
  let timer = null;
  state.watch = () => { ctl.abort(); clearTimeout(timer); };
  const live = await sse(state.api, `/v1/orders/${id}/events`, { signal: ctl.signal,
    onEvent: () => refresh(id) }).catch(() => false);
  $("order-live").textContent = live ? "Updates live." : "Checking for the payment every second.";
  document.body.dataset.live = live ? "sse" : "poll";
  const poll = async () => {
    const o = await refresh(id);
    const done = o && ["paid", "refunded", "canceled", "expired"].includes(o.status);
    if (!ctl.signal.aborted && !done) timer = setTimeout(poll, 1000);
  };
  if (!live) timer = setTimeout(poll, 1000);
}

async function collect(ev) {
  ev.preventDefault();
  say("");
  const code = $("paycode").value.replace(/\s+/g, "");
  if (!/^\d{18}$/.test(code)) {
    say("A payment code is 18 digits. Ask the customer to show it again.");
    return;
  }
  try {
    const o = await state.api.request("POST", `/v1/orders/${state.order.id}/collect`,
      { body: { payment_code: code } });
    $("paycode").value = "";
    await showOrder(o);
  } catch (e) { say(sentence(e)); }
}

async function refund(ev) {
  ev.preventDefault();
  say("");
  let amount;
  try { amount = toMinor($("refund-amount").value, state.order.currency); } catch {
    say(`Type the refund as an amount, like ${money(state.order.amount)}.`);
    return;
  }
  try {
    const r = await state.api.request("POST", "/v1/refunds",
      { body: { order_id: state.order.id, amount, reason: "refund at the shop" } });
    $("refund-amount").value = "";
    await refresh(state.order.id);
    note(`Refunded ${money(r.amount)} ${state.order.currency}.`);
  } catch (e) { say(sentence(e)); }
}

function newOrder() {
  stopWatch();
  state.order = null;
  state.qty = {};
  $("order").hidden = true;
  note("");
  say("");
  renderCatalogue();
  delete document.body.dataset.orderStatus;
}

async function start() {
  const frag = takeFragment();
  const key = frag.get("key") || sessionStorage.getItem("shop.key");
  const merchant = frag.get("merchant") || sessionStorage.getItem("shop.merchant");
  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    say("");
    try { await signIn($("key").value.trim(), $("merchant").value.trim()); } catch (e) {
      say(sentence(e));
    }
  });
  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem("shop.key");
    sessionStorage.removeItem("shop.merchant");
    location.reload();
  });
  $("create").addEventListener("click", () => createOrder().catch((e) => say(sentence(e))));
  $("collect-form").addEventListener("submit", collect);
  $("refund-form").addEventListener("submit", refund);
  $("new-order").addEventListener("click", newOrder);
  if (key && merchant) {
    try { await signIn(key, merchant); } catch (e) {
      say(sentence(e));
      $("signin").hidden = false;
    }
  } else {
    $("signin").hidden = false;
  }
  document.body.dataset.ready = "true";
}

start();
