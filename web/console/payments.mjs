// web/console/payments.mjs - the Payments tab: orders and refunds with the list filters
// (status, created time range, "Show more" by next_cursor), a payment intent by id, the
// webhook endpoints and their delivery logs.
import { el, toMajor } from "/common/api.mjs";
import { badge, dl, json, table, when, wrap } from "./view.mjs";

let c;
let cursor = null;
const STATUSES = {
  orders: ["open", "requires_confirmation", "paid", "partially_refunded", "refunded", "expired", "canceled"],
  refunds: ["pending", "succeeded", "failed"],
};

export function init(ctx) {
  c = ctx;
  c.$("pay-kind").addEventListener("change", statuses);
  statuses();
  c.$("pay-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    cursor = null;
    c.run(() => list(false));
  });
  c.$("pay-more").addEventListener("click", () => c.run(() => list(true)));
  c.$("intent-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    c.run(() => intent(c.$("intent-id").value.trim()));
  });
  c.$("hooks-load").addEventListener("click", () => c.run(hooks));
}

export function load() { return c.run(() => list(false)); }

function statuses() {
  const kind = c.$("pay-kind").value;
  c.$("pay-status").replaceChildren(el("option", { value: "" }, "Any"),
    ...STATUSES[kind].map((s) => el("option", { value: s }, s.replace(/_/g, " "))));
}

const seconds = (v) => (v ? String(Math.floor(new Date(v).getTime() / 1000)) : undefined);
const amount = (x) => `${toMajor(x.amount, x.currency || "USD")} ${x.currency || ""}`;

const COLUMNS = {
  orders: [
    { title: "Created", get: (o) => when(o.created) },
    { title: "Order", get: (o) => el("span", { class: "mono" }, o.id) },
    { title: "Status", get: (o) => badge(o.status) },
    { title: "Amount", get: amount, num: true },
    { title: "Description", get: (o) => o.description || "—" },
  ],
  refunds: [
    { title: "Created", get: (r) => when(r.created) },
    { title: "Refund", get: (r) => el("span", { class: "mono" }, r.id) },
    { title: "Order", get: (r) => el("span", { class: "mono" }, r.order_id) },
    { title: "Status", get: (r) => badge(r.status) },
    { title: "Amount", get: amount, num: true },
  ],
};

let rows = [];
async function list(more) {
  const kind = c.$("pay-kind").value;
  const from = seconds(c.$("pay-from").value), to = seconds(c.$("pay-to").value);
  const page = await c.api.request("GET", `/v1/${kind}`, { query: {
    limit: 20, status: c.$("pay-status").value, created_from: from, created_to: to,
    cursor: more ? cursor : undefined } });
  rows = more ? rows.concat(page.data) : page.data;
  cursor = page.next_cursor;
  table(c.$("pay-table"), COLUMNS[kind], rows, `No ${kind} match these filters.`);
  c.$("pay-more").hidden = !cursor;
}

async function intent(id) {
  const i = await c.api.request("GET", `/v1/payment-intents/${encodeURIComponent(id)}`);
  c.$("intent-out").replaceChildren(el("div", { class: "card" },
    dl([["Intent", i.id], ["Status", badge(i.status)], ["Amount", amount(i)],
      ["From / to", `${i.debit_account_id} → ${i.credit_account_id}`], ["Payee", i.payee_name],
      ["Risk", i.risk ? badge(i.risk.decision) : "—"], ["Order", i.order_id || "—"]]),
    el("details", {}, el("summary", {}, "All fields"), json(i))));
}

async function hooks() {
  const list = await c.api.request("GET", "/v1/webhooks");
  table(c.$("hooks-table"), [
    { title: "Endpoint", get: (h) => h.url },
    { title: "Events", get: (h) => (h.events || []).join(", ") },
    { title: "Status", get: (h) => badge(h.status === "enabled" ? "ok" : "bad") },
    { title: "Failing", get: (h) => String(h.failing_attempts ?? 0), num: true },
    { title: "Log", get: (h) => el("button", { type: "button", class: "secondary",
      "aria-label": `Delivery log of ${h.url}`, onclick: () => c.run(() => deliveries(h)) }, "Deliveries") },
  ], list.data || [], "No webhook endpoints.");
}

async function deliveries(h) {
  const d = await c.api.request("GET", `/v1/webhooks/${h.id}/deliveries`, { query: { limit: 50 } });
  const t = el("table", { "aria-label": `Deliveries to ${h.url}` });
  table(t, [
    { title: "At", get: (x) => when(x.at) },
    { title: "Event", get: (x) => `${x.type} (${x.event_id})` },
    { title: "Attempt", get: (x) => String(x.attempt), num: true },
    { title: "Outcome", get: (x) => badge(x.outcome === "succeeded" ? "ok" : "bad") },
    { title: "HTTP", get: (x) => String(x.http_status ?? "—") },
    { title: "Error", get: (x) => x.error || "—" },
  ], d.data || [], "Nothing delivered yet.");
  c.$("deliveries-out").replaceChildren(el("h3", {}, `Deliveries to ${h.url}`),
    wrap(t));
}
