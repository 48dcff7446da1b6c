// web/console/ledger.mjs - the Ledger tab: GET /v1/audit (totals per ledger, debits = credits,
// the journal's head and position), an account with its history, a transfer's detail.
import { el } from "/common/api.mjs";
import { badge, dl, json, kv, table, wrap } from "./view.mjs";

let c;

const ns = (t) => (t ? new Date(Number(BigInt(t) / 1000000n)).toISOString()
  .replace("T", " ").replace(/\.\d+Z$/, " UTC") : "—");

export function init(ctx) {
  c = ctx;
  c.$("audit-refresh").addEventListener("click", () => c.run(audit));
  c.$("account-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    c.run(() => account(c.$("account-id").value.trim()));
  });
  c.$("transfer-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    c.run(() => transfer(c.$("transfer-id").value.trim()));
  });
}

export function load() { return c.run(audit); }

async function audit() {
  const a = await c.api.request("GET", "/v1/audit");
  const sum = (x, y) => (BigInt(x) + BigInt(y)).toString();
  const ok = a.totals_balanced && a.invariant_ok;
  c.$("audit-summary").replaceChildren(badge(ok ? "ok" : "bad"), " ",
    ok ? "Debits equal credits in every ledger, and the last full check held."
      : "Attention: the totals do not balance or the last full check failed.");
  c.$("audit-summary").dataset.balanced = String(a.totals_balanced);
  kv(c.$("audit-journal"), [
    ["Journal head", el("span", { class: "mono" }, a.head_hash)],
    ["Journal position", `record ${a.journal_seq} (${a.batches} batches, ${a.events} events, ${a.journal_bytes} bytes)`],
    ["Accounts / transfers", `${a.accounts} / ${a.transfers}`],
    ["Full check", `at record ${a.full_check_seq}: ${a.full_check_ok ? "held" : "FAILED"}`],
  ]);
  table(c.$("audit-ledgers"), [
    { title: "Ledger", get: (l) => String(l.ledger) },
    { title: "Accounts", get: (l) => String(l.accounts), num: true },
    { title: "Debits (posted + pending)", get: (l) => sum(l.debits_posted, l.debits_pending), num: true },
    { title: "Credits (posted + pending)", get: (l) => sum(l.credits_posted, l.credits_pending), num: true },
    { title: "Debits = credits", get: (l) => badge(l.balanced ? "ok" : "bad") },
  ], a.ledgers || [], "No ledger has money yet.");
}

function transferLink(id) {
  return el("button", { type: "button", class: "secondary", "aria-label": `Transfer ${id}`,
    onclick: () => { c.$("transfer-id").value = id; c.run(() => transfer(id)); } }, id);
}

async function account(id) {
  const out = c.$("account-out");
  out.replaceChildren();
  if (!/^\d+$/.test(id)) {
    c.say("An account id is a number.");
    return;
  }
  const a = await c.api.request("GET", `/v1/accounts/${id}`);
  const h = await c.api.request("GET", `/v1/accounts/${id}/transfers`,
    { query: { limit: 20, reversed: "true" } });
  const t = el("table", { "aria-label": `History of account ${id}` });
  table(t, [
    { title: "Time", get: (x) => ns(x.timestamp) },
    { title: "Transfer", get: (x) => transferLink(x.id) },
    { title: "Direction", get: (x) => (x.debit_account_id === id ? "out (debit)" : "in (credit)") },
    { title: "Other account", get: (x) => (x.debit_account_id === id ? x.credit_account_id : x.debit_account_id) },
    { title: "Amount", get: (x) => x.amount, num: true },
    { title: "Flags", get: (x) => (x.flags || []).join(", ") },
  ], h.transfers || [], "No transfers yet.");
  out.replaceChildren(el("div", { class: "card", id: "account-card" },
    dl([["Account", a.id], ["Ledger / code", `${a.ledger} / ${a.code}`],
      ["Debits posted", a.debits_posted], ["Credits posted", a.credits_posted],
      ["Debits pending", a.debits_pending], ["Credits pending", a.credits_pending],
      ["Flags", (a.flags || []).join(", ") || "none"], ["Created", ns(a.timestamp)]]),
    el("h3", {}, "History (latest 20)"), wrap(t)));
}

async function transfer(id) {
  const out = c.$("transfer-out");
  out.replaceChildren();
  if (!/^\d+$/.test(id)) {
    c.say("A transfer id is a number.");
    return;
  }
  const t = await c.api.request("GET", `/v1/transfers/${id}`);
  out.replaceChildren(el("div", { class: "card", id: "transfer-card" },
    dl([["Transfer", t.id], ["From (debit)", t.debit_account_id], ["To (credit)", t.credit_account_id],
      ["Amount", t.amount], ["Ledger / code", `${t.ledger} / ${t.code}`],
      ["Flags", (t.flags || []).join(", ") || "none"], ["Time", ns(t.timestamp)],
      ["Pending id", t.pending_id && t.pending_id !== "0" ? t.pending_id : "—"]]),
    el("details", {}, el("summary", {}, "All fields"), json(t))));
  out.querySelector("#transfer-card").scrollIntoView({ block: "nearest" });
}
