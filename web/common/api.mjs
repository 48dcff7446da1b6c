// web/common/api.mjs - what the console and the shop share: Api (the JS client,
// /clients/js/quipu.mjs, behind the few calls the pages make), `sentence(err)` (an API error as
// a sentence for people), amounts (the client's toMajor/toMinor), a DOM helper, the #key=
// fragment, and SSE with a fallback signal.
import { Quipu, QuipuError, toMajor, toMinor } from "/clients/js/quipu.mjs";
// The pages talk to the node through the JS client; Api keeps their small call surface.
export { QuipuError as ApiError, toMajor, toMinor };

const clean = (query) => Object.fromEntries(Object.entries(query || {})
  .filter(([, v]) => v !== undefined && v !== null && v !== ""));

export class Api {
  constructor({ apiKey = "", baseUrl = "" } = {}) {
    this.q = new Quipu({ baseUrl, apiKey, fetch: window.fetch.bind(window) });
  }

  // opts: query (empty values left out), body (JSON) or text (text/plain), idempotencyKey.
  request(method, path, { query, body, text, idempotencyKey, headers } = {}) {
    return this.q.request(method, path, { query: clean(query), idempotencyKey, headers,
      body: text !== undefined ? text : body });
  }

  text(method, path, opts = {}) {
    return this.q.request(method, path, { query: clean(opts.query), responseType: "text" });
  }
}

const SENTENCES = {
  network_error: "The node cannot be reached. Check that it is running and try again.",
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
  refund_exceeds_payment: "The refund is larger than what is left to refund.",
  ruleset_invalid: "The ruleset has an error.",
  no_shadow: "No shadow ruleset is installed.",
  unknown_list: "No such list.",
  unknown_rule: "No such rule in the live ruleset.",
  not_snoozed: "That rule is not snoozed.",
  payment_intent_not_in_review: "This payment is no longer waiting for review.",
  passkey_refused: "That passkey was not accepted. Use a passkey enrolled for this console, and unlock it with your fingerprint, face or PIN.",
  challenge_used: "That sign-in was used already. Try again.",
  challenge_expired: "The sign-in took too long. Try again.",
  ceremony_not_found: "The sign-in has expired. Try again.",
  credential_exists: "This passkey is enrolled already.",
  operator_changed: "The operator was changed meanwhile. Try again.",
  operator_not_found: "No such operator.",
  credential_not_found: "No such passkey: it was removed already.",
  too_many_credentials: "This operator has the most passkeys allowed. Remove one first.",
  keys_unavailable: "The node cannot write its key file right now. Try again in a moment.",
};

export function sentence(err) {
  if (!(err instanceof QuipuError)) return `Something went wrong: ${err && err.message || err}.`;
  if (err.status === 401 && !SENTENCES[err.code]) return SENTENCES.unauthorized;
  if (err.status === 403 && !SENTENCES[err.code]) return SENTENCES.forbidden;
  const known = SENTENCES[err.code];
  if (known) return known;
  const m = (err.message || "").replace(/\.$/, "");
  const where = err.path ? ` (field “${err.path}”)` : "";
  if (err.status >= 500) return `The node could not do that right now: ${m}. Try again.`;
  return `That did not work: ${m}${where}.`;
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

// Server-sent events through the client (Authorization header; reconnects after network
// errors): calls onEvent(type, data). Resolves true once the stream is open, false when the
// node refuses it (404 before the route exists, …) so the caller can poll instead.
export function sse(api, path, { onEvent, signal }) {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (v) => { if (!settled) { settled = true; resolve(v); } };
    const s = api.q.events(path, { signal, json: false,
      onOpen: () => settle(true),
      onEvent: (type, data) => onEvent(type, data),
      onError: () => { if (!settled) { s.close(); settle(false); } } });
  });
}
