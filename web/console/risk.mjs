// web/console/risk.mjs - the Risk tab: decisions by outcome over time (GET /v1/risk/stats as
// an SVG chart), the latest decisions (GET /v1/risk/decisions) and one's detail, the review
// queue (decisions "review" whose payment intent is still requires_review: approve or
// decline), the live rules with their fire counts and snoozes, the ruleset editor (PUT live or
// shadow; compile errors shown at their line), the shadow report, the lists.
import { ApiError, el, sentence, toMajor } from "/common/api.mjs";
import { legend, stackedBars } from "./chart.mjs";
import { badge, dl, json, table, when, wrap } from "./view.mjs";

let c;

export function init(ctx) {
  c = ctx;
  c.$("risk-refresh").addEventListener("click", () => c.run(all));
  c.$("ruleset-live").addEventListener("click", () => c.run(() => putRuleset("live")));
  c.$("ruleset-shadow").addEventListener("click", () => c.run(() => putRuleset("shadow")));
  c.$("list-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    c.run(listUpdate);
  });
}

export async function load() {
  await c.run(all);
  await c.run(async () => {
    const r = await c.api.request("GET", "/v1/risk/ruleset");
    c.$("ruleset-text").value = r.text || "";
  });
}

async function all() {
  await Promise.all([chart(), decisions(), review(), rules(), shadow(), lists()]);
  document.body.dataset.riskLoaded = String(Date.now());
}

async function chart() {
  const stats = await c.api.request("GET", "/v1/risk/stats", { query: { bucket_s: 60, buckets: 30 } });
  const fig = c.$("risk-chart");
  fig.replaceChildren(stackedBars(stats, fig.clientWidth - 18), legend(),
    el("figcaption", { class: "muted" }, `Decisions per minute, the last 30 minutes (UTC). ` +
      `Total: ${Object.entries(stats.totals).map(([k, v]) => `${v} ${k}`).join(", ")}.`));
}

function showDecision(d) {
  c.$("decision-out").replaceChildren(el("div", { class: "card", id: "decision-card" },
    el("h3", {}, `Decision for event ${d.decision.id}`),
    dl([["Outcome", badge(d.decision.decision)], ["Score", String(d.decision.score)],
      ["When", when(d.at)],
      ["Rules fired", (d.decision.fired || []).map((f) => `${f.rule} (${f.outcome}${f.reason ? `: ${f.reason}` : ""})`).join("; ") || "none"],
      ["Features", Object.entries(d.decision.features || {}).map(([k, v]) => `${k} = ${v}`).join(", ") || "none"]]),
    el("details", {}, el("summary", {}, "The decision as JSON"), json(d.decision))));
}

async function decisions() {
  const r = await c.api.request("GET", "/v1/risk/decisions", { query: { limit: 20 } });
  table(c.$("decisions-table"), [
    { title: "When", get: (d) => when(d.at) },
    { title: "Event", get: (d) => el("button", { type: "button", class: "secondary",
      "aria-label": `Show the decision for event ${d.decision.id}`, onclick: () => showDecision(d) },
      String(d.decision.id)) },
    { title: "Outcome", get: (d) => badge(d.decision.decision) },
    { title: "Score", get: (d) => String(d.decision.score), num: true },
    { title: "Rules fired", get: (d) => (d.decision.fired || []).map((f) => f.rule).join(", ") || "—" },
  ], r.decisions, "No decisions since the node started.");
}

async function review() {
  const r = await c.api.request("GET", "/v1/risk/decisions", { query: { outcome: "review", limit: 100 } });
  const ids = [...new Set(r.decisions.map((d) => String(d.decision.id)))];
  const intents = (await Promise.all(ids.map((id) =>
    c.api.request("GET", `/v1/payment-intents/${encodeURIComponent(id)}`).catch(() => null))))
    .filter((i) => i && i.status === "requires_review");
  const t = el("table", { id: "review-table", "aria-label": "Payments waiting for review" });
  table(t, [
    { title: "Intent", get: (i) => el("span", { class: "mono" }, i.id) },
    { title: "Amount", get: (i) => `${toMajor(i.amount, i.currency)} ${i.currency}`, num: true },
    { title: "Payee", get: (i) => i.payee_name || "—" },
    { title: "Rules", get: (i) => (i.risk?.fired || []).map((f) => f.rule).join(", ") || "—" },
    { title: "Decide", get: (i) => el("div", { class: "actions" },
      el("button", { type: "button", "aria-label": `Approve ${i.id}`,
        onclick: () => c.run(() => answer(i.id, "approve")) }, "Approve"),
      el("button", { type: "button", class: "danger", "aria-label": `Decline ${i.id}`,
        onclick: () => c.run(() => answer(i.id, "decline")) }, "Decline")) },
  ], intents, "Nothing is waiting for review.");
  c.$("review-out").replaceChildren(wrap(t));
}

async function answer(id, verb) {
  await c.api.request("POST", `/v1/payment-intents/${id}/${verb}`, { body: { note: `${verb}d in the console` } });
  c.say("");
  await review();
  c.$("review-out").prepend(el("p", { class: "msg ok", role: "status" },
    `Payment ${id} ${verb === "approve" ? "approved: the customer can now confirm it" : "declined: the money was released"}.`));
}

async function rules() {
  const r = await c.api.request("GET", "/v1/risk/rules");
  table(c.$("rules-table"), [
    { title: "Rule", get: (x) => x.rule },
    { title: "Outcome", get: (x) => badge(x.outcome) },
    { title: "Score", get: (x) => String(x.score), num: true },
    { title: "Fired", get: (x) => String(x.fired), num: true },
    { title: "Snooze", get: (x) => (x.snooze ? `until ${when(x.snooze.until)}: ${x.snooze.reason}` : "—") },
    { title: "Action", get: (x) => (x.snooze
      ? el("button", { type: "button", class: "secondary", "aria-label": `Lift the snooze of ${x.rule}`,
        onclick: () => c.run(() => snooze(x.rule, false)) }, "Lift snooze")
      : el("button", { type: "button", class: "secondary", "aria-label": `Snooze ${x.rule} for an hour`,
        onclick: () => c.run(() => snooze(x.rule, true)) }, "Snooze 1 h")) },
  ], r.rules || [], "The live ruleset has no rules.");
}

async function snooze(rule, on) {
  const path = `/v1/risk/rules/${encodeURIComponent(rule)}/snooze`;
  if (on) await c.api.request("POST", path, { body: { reason: "snoozed in the console", duration_s: 3600 } });
  else await c.api.request("DELETE", path);
  await rules();
}

function showErrors(text, err) {
  const box = c.$("ruleset-errors");
  const errs = err.body?.error?.errors || [{ line: err.body?.error?.line, column: err.body?.error?.column, message: err.message }];
  const lines = text.split("\n");
  const bad = new Set(errs.map((e) => e.line));
  const first = errs[0].line || 1;
  const from = Math.max(1, first - 2), to = Math.min(lines.length, first + 2);
  const src = el("div", { class: "src", "aria-label": "The source around the first error" });
  for (let n = from; n <= to; n++) {
    src.append(el("div", { class: bad.has(n) ? "bad" : null }, el("span", { class: "ln" }, String(n)), lines[n - 1]));
    if (n === first && errs[0].column)
      src.append(el("div", { class: "bad", "aria-hidden": "true" }, el("span", { class: "ln" }, ""),
        `${" ".repeat(errs[0].column - 1)}^`));
  }
  box.replaceChildren(el("p", { class: "msg error" }, `The ruleset was not loaded: it has ${errs.length === 1 ? "an error" : `${errs.length} errors`}. The live ruleset did not change.`),
    el("ul", { class: "editor-errors" }, errs.map((e) => el("li", { "data-line": String(e.line) },
      `Line ${e.line}, column ${e.column}: ${e.message}`))), src);
  const ta = c.$("ruleset-text");
  const at = lines.slice(0, first - 1).reduce((n, l) => n + l.length + 1, 0);
  ta.setSelectionRange(at, at + (lines[first - 1] || "").length);
}

async function putRuleset(mode) {
  const text = c.$("ruleset-text").value;
  c.$("ruleset-errors").replaceChildren();
  c.$("ruleset-ok").textContent = "";
  try {
    const r = await c.api.request("PUT", "/v1/risk/ruleset", { text, query: { mode: mode === "shadow" ? "shadow" : undefined } });
    await Promise.all([rules(), shadow(), lists()]); // the tables first, then the message
    c.$("ruleset-ok").textContent = `Loaded as the ${mode} ruleset: ${r.rules} rules, ${r.features} features (${r.ruleset.slice(0, 12)}…).`;
  } catch (e) {
    if (e instanceof ApiError && e.code === "ruleset_invalid") showErrors(text, e);
    else c.say(sentence(e));
  }
}

async function shadow() {
  const out = c.$("shadow-out");
  let r;
  try {
    r = await c.api.request("GET", "/v1/risk/shadow");
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      out.replaceChildren(el("p", { class: "muted" }, "No shadow ruleset is running. Load one above to compare it with the live one."));
      return;
    }
    throw e;
  }
  const t = el("table", { "aria-label": "Shadow rules" });
  table(t, [{ title: "Rule", get: (x) => x.rule }, { title: "Fired", get: (x) => String(x.fired), num: true },
    { title: "Disagreements", get: (x) => String(x.disagreements), num: true }], r.by_rule || []);
  out.replaceChildren(dl([["Events compared", String(r.events)], ["Agreements", String(r.agreements)],
    ["Disagreements", String(r.disagreements)], ["Installed", `${when(r.installed_at)} by ${r.installed_by}`]]),
  wrap(t),
  el("button", { type: "button", class: "secondary", onclick: () => c.run(async () => {
    await c.api.request("DELETE", "/v1/risk/shadow");
    await shadow();
  }) }, "Stop the shadow ruleset"));
}

async function lists() {
  const r = await c.api.request("GET", "/v1/risk/lists");
  table(c.$("lists-table"), [{ title: "List", get: (l) => l.name }, { title: "Kind", get: (l) => l.kind },
    { title: "Items", get: (l) => String(l.size), num: true },
    { title: "Show", get: (l) => el("button", { type: "button", class: "secondary", "aria-label": `Show the items of ${l.name}`,
      onclick: () => c.run(() => showList(l.name)) }, "Items") }], r.lists || [], "The ruleset declares no lists.");
  const sel = c.$("list-name"), was = sel.value;
  sel.replaceChildren(...(r.lists || []).map((l) => el("option", { value: l.name }, l.name)));
  if (was) sel.value = was;
}

async function showList(name) {
  const l = await c.api.request("GET", `/v1/risk/lists/${encodeURIComponent(name)}`);
  c.$("list-out").replaceChildren(el("div", { class: "card" }, el("h3", {}, `${l.name} (${l.size} items)`),
    el("p", {}, l.items.length ? l.items.join(", ") : "Empty.")));
}

async function listUpdate() {
  const name = c.$("list-name").value;
  const items = c.$("list-items").value.split(/[\n,]+/).map((x) => x.trim()).filter(Boolean);
  if (!name) { c.say("Choose a list first."); return; }
  const body = { [c.$("list-op").value]: items };
  await c.api.request("POST", `/v1/risk/lists/${encodeURIComponent(name)}`, { body });
  c.$("list-items").value = "";
  await lists();
  await showList(name);
}
