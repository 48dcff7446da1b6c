// web/console/chart.mjs - decisions by outcome over time as stacked bars in plain SVG (no
// library): one bar per bucket of GET /v1/risk/stats, colours per outcome, axes, a title and
// a description for screen readers, and the numbers in a table beside it.
const NS = "http://www.w3.org/2000/svg";
export const OUTCOMES = ["allow", "challenge", "review", "block"];
export const COLOURS = { allow: "#1f7a3f", challenge: "#946200", review: "#6a3bb0", block: "#b3261e" };

function s(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const hhmm = (t) => new Date(t * 1000).toISOString().slice(11, 16);

// width: the drawing's width in CSS pixels (the figure's), so text stays 11px on a phone.
export function stackedBars(stats, width = 720) {
  const W = Math.max(280, Math.round(width)), H = 220, L = 44, B = 28, T = 10, R = 8;
  const buckets = stats.buckets;
  const top = Math.max(1, ...buckets.map((b) => OUTCOMES.reduce((n, o) => n + b[o], 0)));
  const step = [1, 2, 5].flatMap((m) => [1, 10, 100, 1000, 10000, 100000].map((p) => m * p))
    .sort((x, y) => x - y).find((st) => st * 4 >= top) ?? Math.ceil(top / 4);
  const max = step * 4; // four ticks of a round step
  const total = OUTCOMES.map((o) => `${stats.totals[o]} ${o}`).join(", ");
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "chart-t chart-d" });
  svg.append(s("title", { id: "chart-t" }, `Risk decisions per ${stats.bucket_s} seconds`),
    s("desc", { id: "chart-d" }, `${buckets.length} buckets up to ${hhmm(stats.now)} UTC: ${total}.`));
  const bw = (W - L - R) / buckets.length;
  for (let k = 0; k <= 4; k++) {
    const y = T + (H - T - B) * (1 - k / 4);
    svg.append(s("line", { x1: L, x2: W - R, y1: y, y2: y, stroke: "#c9d1db", "stroke-width": 1 }),
      s("text", { x: L - 6, y: y + 4, "text-anchor": "end", "font-size": 11, fill: "#4a5563" },
        String(step * k)));
  }
  buckets.forEach((b, i) => {
    let y = H - B;
    for (const o of OUTCOMES) {
      if (!b[o]) continue;
      const h = ((H - T - B) * b[o]) / max;
      y -= h;
      const r = s("rect", { x: L + i * bw + 1, y, width: Math.max(1, bw - 2), height: h,
        fill: COLOURS[o], "data-outcome": o });
      r.append(s("title", {}, `${hhmm(b.start)}: ${b[o]} ${o}`));
      svg.append(r);
    }
    if (i % Math.ceil(buckets.length / Math.max(2, Math.floor(W / 70))) === 0)
      svg.append(s("text", { x: L + i * bw, y: H - 8, "font-size": 11, fill: "#4a5563" }, hhmm(b.start)));
  });
  return svg;
}

export function legend() {
  const d = document.createElement("div");
  d.className = "legend";
  for (const o of OUTCOMES) {
    const sw = s("svg", { width: 12, height: 12, "aria-hidden": "true" });
    sw.append(s("rect", { width: 12, height: 12, fill: COLOURS[o] }));
    const item = document.createElement("span");
    item.append(sw, ` ${o}`);
    d.append(item);
  }
  return d;
}
