// web/common/api.mjs - a small fetch wrapper with the surface of the JS client's
// Quipu.request (clients/js/quipu.mjs, /work/briefs/jsclient-api.md) for the pages until they
// import the client itself; and `sentence(err)`: an API error as a sentence for people.
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || (status === 0 ? "network" : "http_" + status);
    this.path = e.path || "";
    this.body = body;
  }
}

export class Api {
  constructor({ apiKey = "", baseUrl = "" } = {}) { this.apiKey = apiKey; this.baseUrl = baseUrl; }

  async raw(method, path, { query, body, idempotencyKey, headers = {}, text } = {}) {
    const url = new URL(this.baseUrl + path, location.origin);
    for (const [k, v] of Object.entries(query || {}))
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
    const h = { ...headers };
    if (this.apiKey) h.Authorization = `Bearer ${this.apiKey}`;
    const init = { method, headers: h };
    if (text !== undefined) {
      h["Content-Type"] = "text/plain";
      init.body = text;
    } else if (body !== undefined) {
      h["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method === "POST") h["Idempotency-Key"] = idempotencyKey || crypto.randomUUID();
    let r;
    try {
      r = await fetch(url, init);
    } catch (e) {
      throw new ApiError(0, { error: { code: "network", message: String(e) } });
    }
    return r;
  }

  async request(method, path, opts = {}) {
    const r = await this.raw(method, path, opts);
    const t = await r.text();
    let j = null;
    try { j = t ? JSON.parse(t) : null; } catch { j = null; }
    if (!r.ok) throw new ApiError(r.status, j);
    return j;
  }

  async text(method, path, opts = {}) {
    const r = await this.raw(method, path, opts);
    const t = await r.text();
    if (!r.ok) {
      let j = null;
      try { j = JSON.parse(t); } catch { j = null; }
      throw new ApiError(r.status, j);
    }
    return t;
  }
}

const SENTENCES = {
  network: "The node cannot be reached. Check that it is running and try again.",
  unauthorized: "That API key was not accepted. Check it and sign in again.",
  key_expired: "That API key has expired. Ask for a new one.",
  forbidden: "This key is not allowed to do that.",
  not_found: "Nothing was found with that id.",
  rate_limited: "Too many requests at once. Wait a moment and try again.",
  overloaded: "The node is busy. Try again in a moment.",
  order_not_open: "This order can no longer be paid or changed.",
  payment_code_invalid: "That payment code is not valid. Ask the customer to show it again.",
  payment_code_expired: "That payment code has expired. Ask the customer for a fresh one.",
  payment_code_used: "That payment code was used already. Ask the customer for a fresh one.",
  payment_code_revoked: "That payment code belongs to a device that was switched off.",
  risk_blocked: "The payment was blocked by the risk checks.",
  exceeds_credits: "The customer's account does not have enough money.",
  user_not_found: "The customer behind this code is unknown.",
  refund_exceeds: "The refund is larger than what is left to refund.",
  ruleset_invalid: "The ruleset has an error.",
  no_shadow: "No shadow ruleset is installed.",
  unknown_list: "No such list.",
  unknown_rule: "No such rule in the live ruleset.",
  not_snoozed: "That rule is not snoozed.",
  payment_intent_not_in_review: "This payment is no longer waiting for review.",
};

export function sentence(err) {
  if (!(err instanceof ApiError)) return `Something went wrong: ${err && err.message || err}.`;
  if (err.status === 401 && !SENTENCES[err.code]) return SENTENCES.unauthorized;
  if (err.status === 403 && !SENTENCES[err.code]) return SENTENCES.forbidden;
  const known = SENTENCES[err.code];
  if (known) return known;
  const m = (err.message || "").replace(/\.$/, "");
  const where = err.path ? ` (field “${err.path}”)` : "";
  if (err.status >= 500) return `The node could not do that right now: ${m}. Try again.`;
  return `That did not work: ${m}${where}.`;
}

// "1234", "USD" -> "12.34" (BigInt only; ISO 4217 decimals of the common currencies).
const DECIMALS = { JPY: 0, KRW: 0, VND: 0, CLP: 0, ISK: 0, BHD: 3, KWD: 3, JOD: 3, OMR: 3, TND: 3 };
export function toMajor(minor, currency) {
  const d = DECIMALS[currency] ?? 2;
  let v = BigInt(minor);
  const neg = v < 0n;
  if (neg) v = -v;
  const s = v.toString().padStart(d + 1, "0");
  const out = d === 0 ? s : `${s.slice(0, s.length - d)}.${s.slice(s.length - d)}`;
  return (neg ? "-" : "") + out;
}

export function toMinor(major, currency) {
  const d = DECIMALS[currency] ?? 2;
  const m = /^(\d+)(?:\.(\d*))?$/.exec(String(major).trim());
  if (!m || (m[2] || "").length > d) throw new Error(`not an amount with at most ${d} decimals`);
  return (BigInt(m[1]) * 10n ** BigInt(d) + BigInt((m[2] || "").padEnd(d, "0") || "0")).toString();
}

// Small DOM helper: el("td", {class: "num"}, "text", child, …).
export function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k);
  return e;
}

// Reads `#key=…` (and other fragment fields) and removes the fragment from the address bar.
export function takeFragment() {
  const p = new URLSearchParams(location.hash.slice(1));
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  return p;
}

// Server-sent events over fetch (works with the Authorization header): calls onEvent(type, data).
// Resolves false at once when the route does not exist (404/405), so the caller can poll instead.
export async function sse(api, path, { onEvent, signal }) {
  const r = await api.raw("GET", path, { headers: { Accept: "text/event-stream" } });
  if (!r.ok || !(r.headers.get("content-type") || "").startsWith("text/event-stream")) {
    r.body?.cancel();
    return false;
  }
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  signal?.addEventListener("abort", () => reader.cancel());
  (async () => {
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ done: true }));
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let type = "message", data = "";
        for (const line of frame.split("\n")) {
          if (line.startsWith("event:")) type = line.slice(6).trim();
          else if (line.startsWith("data:")) data += (data ? "\n" : "") + line.slice(5).trimStart();
        }
        if (data || type !== "message") onEvent(type, data);
      }
    }
  })();
  return true;
}
