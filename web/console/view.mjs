// web/console/view.mjs - small renderers shared by the console's tabs.
import { el } from "/common/api.mjs";

// A table from rows: columns [{title, get(row) -> text|Node, num}].
export function table(node, columns, rows, empty = "Nothing to show.") {
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.num ? "num" : null }, c.title)));
  const body = rows.length === 0
    ? [el("tr", {}, el("td", { colspan: String(columns.length), class: "muted" }, empty))]
    : rows.map((r) => el("tr", {}, columns.map((c) => el("td", { class: c.num ? "num" : null }, c.get(r)))));
  node.replaceChildren(el("thead", {}, head), el("tbody", {}, body));
}

// A definition list from [[term, value], …] (values: text or Node).
export function kv(node, pairs) {
  node.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "—")]));
}

export function dl(pairs) {
  const d = el("dl", { class: "kv" });
  kv(d, pairs);
  return d;
}

export function badge(text) {
  return el("span", { class: `badge ${text}` }, String(text).replace(/_/g, " "));
}

export function json(value) { return el("pre", {}, JSON.stringify(value, null, 2)); }

export function when(s) {
  if (s === null || s === undefined || s === "") return "—";
  const n = Number(s);
  const d = typeof s === "number" || /^\d+$/.test(String(s)) ? new Date(n * 1000) : new Date(s);
  return isNaN(d) ? String(s) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

// A table in a horizontally scrollable region that the keyboard can reach (tab, then arrows).
export function wrap(t) {
  return el("div", { class: "table-wrap", tabindex: "0", role: "region",
    "aria-label": t.getAttribute("aria-label") || "Table" }, t);
}

// The same for the page's own wrappers.
export function wrapAll(root = document) {
  for (const w of root.querySelectorAll(".table-wrap:not([tabindex])")) {
    w.tabIndex = 0;
    w.setAttribute("role", "region");
    w.setAttribute("aria-label", w.querySelector("table")?.getAttribute("aria-label") || "Table");
  }
}
