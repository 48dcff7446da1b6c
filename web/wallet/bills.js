// bills.js - bills as list items, the bills view (by month, search by
// counterparty or amount, paged by cursor) and a bill's detail view.
import * as api from "./api.js";
import { $, h, notice, when, whenShort, thisMonth } from "./ui.js";

const STATUS = { pending: "Pending", posted: "Completed", voided: "Canceled" };
const KIND = { transfer: "Transfer", payment: "Payment", refund: "Refund", deposit: "Deposit" };

export function counterparty(b) {
  const c = b.counterparty || {};
  if (c.kind === "bank") return c.name && c.name !== "bank" ? c.name : "Bank";
  return c.name || (c.handle ? `@${c.handle}` : "Unknown");
}

function signed(b) {
  const s = api.money(b.amount, b.currency);
  return b.direction === "in" ? `+${s}` : `−${s}`;
}

// One bill as an <li> with a link to its detail.
export function billItem(b) {
  const status = b.status === "posted" ? null
    : h("span", { class: `status ${b.status}`, text: STATUS[b.status] || b.status });
  return h("li", { dataset: { bill: b.id, status: b.status } },
    h("a", { href: `#/bill/${encodeURIComponent(b.id)}` },
      h("span", { class: "who" }, h("strong", { text: counterparty(b) }),
        h("small", { text: `${KIND[b.kind] || b.kind} · ${whenShort(b.time)}` })),
      h("span", { class: `amount ${b.direction}` }, signed(b), status)));
}

let cursor = null;

async function load(append) {
  const month = $("bills-month").value || thisMonth();
  const qText = $("bills-q").value.trim();
  const list = $("bills-list");
  $("bills-status").textContent = "Loading…";
  try {
    const r = await api.bills({ month, q: qText || undefined, limit: 20,
      cursor: append ? cursor : undefined });
    if (!append) list.replaceChildren();
    list.append(...r.data.map(billItem));
    cursor = r.next_cursor || null;
    $("bills-more").hidden = !cursor;
    const n = list.children.length;
    $("bills-status").textContent = n ? `${n} bill${n === 1 ? "" : "s"}`
      : (qText ? "No bills match your search." : "No bills this month.");
  } catch (err) {
    $("bills-status").textContent = "";
    notice(err);
  }
}

export function showBills() {
  if (!$("bills-month").value) $("bills-month").value = thisMonth();
  return load(false);
}

export async function showBill(id) {
  const dl = $("bill-detail");
  dl.replaceChildren();
  $("bill-amount").textContent = "";
  try {
    const b = await api.bill(id);
    $("bill-title").textContent = `${KIND[b.kind] || "Bill"} ${b.direction === "in" ? "from"
      : "to"} ${counterparty(b)}`;
    $("bill-amount").textContent = signed(b);
    const rows = [["Time", when(b.time)], ["Counterparty", counterparty(b)],
      ["Amount", api.money(b.amount, b.currency)], ["Status", STATUS[b.status] || b.status],
      ["Type", KIND[b.kind] || b.kind], ["Ledger transfer", b.transfer_id]];
    if (b.order_id) rows.push(["Order", b.order_id]);
    for (const [k, v] of rows) {
      dl.append(h("dt", { text: k }),
        h("dd", { text: v, class: /transfer|Order/.test(k) ? "mono" : null }));
    }
  } catch (err) {
    $("bill-title").textContent = "Bill";
    notice(err);
  }
}

export function initBills() {
  $("bills-form").addEventListener("submit", (e) => { e.preventDefault(); load(false); });
  $("bills-month").addEventListener("change", () => load(false));
  $("bills-more").addEventListener("click", () => load(true));
}
