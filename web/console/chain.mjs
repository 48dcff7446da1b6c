// web/console/chain.mjs - the Chain tab, shown only when GET /v1/chain/status answers: the
// status, the validators, the recent blocks and their transactions, a block's and a
// transaction's detail (a small block explorer).
import { el } from "/common/api.mjs";
import { dl, json, kv, table, wrap } from "./view.mjs";

let c;

export function init(ctx) {
  c = ctx;
  c.$("chain-refresh").addEventListener("click", () => c.run(status));
  c.$("block-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    c.run(() => block(c.$("block-height").value.trim()));
  });
  c.$("tx-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    c.run(() => tx(c.$("tx-hash").value.trim()));
  });
}

export async function available(ctx) {
  try {
    await ctx.api.request("GET", "/v1/chain/status");
    return true;
  } catch {
    return false;
  }
}

export function load() { return c.run(status); }

const short = (h) => (h ? `${String(h).slice(0, 16)}…` : "—");

async function status() {
  const s = await c.api.request("GET", "/v1/chain/status");
  kv(c.$("chain-status"), [["Chain", s.chain_id], ["Height", String(s.height)],
    ["Head", el("span", { class: "mono" }, s.head_hash)], ["State root", el("span", { class: "mono" }, s.state_root)],
    ["View / epoch", `${s.view} / ${s.epoch}`], ["Syncing", s.syncing ? "yes" : "no"],
    ["Peers up", Array.isArray(s.peers)
      ? `${s.peers.filter((p) => p.up).length} of ${s.peers.length}` : "—"],
    ["Mempool", s.mempool ? `${s.mempool.count} transactions, ${s.mempool.bytes} bytes` : "—"]]);
  const up = new Map((s.peers || []).map((p) => [String(p.index), p.up]));
  table(c.$("chain-validators"), [
    { title: "Index", get: (v) => String(v.index), num: true },
    { title: "Name", get: (v) => v.name + (String(v.index) === String(s.self) ? " (this node)" : "") },
    { title: "Public key", get: (v) => el("span", { class: "mono" }, short(v.public_key)) },
    { title: "Up", get: (v) => (String(v.index) === String(s.self) ? "yes"
      : up.has(String(v.index)) ? (up.get(String(v.index)) ? "yes" : "no") : "—") },
  ], s.validators || [], "No validators listed.");
  const heights = [];
  for (let h = Number(s.height); h >= 1 && heights.length < 10; h--) heights.push(h);
  const blocks = await Promise.all(heights.map((h) =>
    c.api.request("GET", `/v1/chain/blocks/${h}`).catch(() => null)));
  table(c.$("chain-blocks"), [
    { title: "Height", get: (b) => el("button", { type: "button", class: "secondary",
      "aria-label": `Block ${b.height}`,
      onclick: () => c.run(() => block(String(b.height))) }, String(b.height)) },
    { title: "Hash", get: (b) => el("span", { class: "mono" }, short(b.hash)) },
    { title: "Time", get: (b) => new Date(Number(b.timestamp_ms)).toISOString() },
    { title: "Transactions", get: (b) => String((b.txs || []).length), num: true },
  ], blocks.filter(Boolean), "No blocks yet.");
}

async function block(height) {
  if (!/^\d+$/.test(height)) {
    c.say("A block height is a number.");
    return;
  }
  const b = await c.api.request("GET", `/v1/chain/blocks/${height}`);
  const txs = el("table", { "aria-label": `Transactions of block ${height}` });
  table(txs, [{ title: "Transaction", get: (t) => {
    const h = typeof t === "string" ? t : t.hash;
    return el("button", { type: "button", class: "secondary", onclick: () => c.run(() => tx(h)) }, short(h));
  } }], b.txs || [], "No transactions in this block.");
  c.$("block-out").replaceChildren(el("div", { class: "card" },
    dl([["Height", String(b.height)], ["Hash", b.hash], ["Parent", b.parent_hash],
      ["Proposer", b.proposer], ["Time", new Date(Number(b.timestamp_ms)).toISOString()],
      ["Signers", String(b.qc_signers)]]),
    wrap(txs), el("details", {}, el("summary", {}, "All fields"), json(b))));
}

async function tx(hash) {
  const t = await c.api.request("GET", `/v1/chain/txs/${encodeURIComponent(hash)}`);
  c.$("tx-out").replaceChildren(el("div", { class: "card" },
    dl([["Height / index", `${t.height} / ${t.index}`]]), json(t)));
}
