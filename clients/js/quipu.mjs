// quipu.mjs - the JavaScript client of quipu's HTTP API (issue 17).
//
// One ES module with no dependencies and no build step: it runs in browsers
// (served by the node at /clients/js/quipu.mjs) and in Node 20. It holds the
// transport (request(), QuipuError, idempotency keys and retries, cursor
// pagination, Server-Sent Events over fetch streaming), money helpers that
// never touch floating point (toMajor/toMinor, BigInt and strings only), the
// WebAuthn JSON <-> buffer conversions, and one namespace per module of the
// node (ledger, auth, payments, risk, chain, wallet). Documented in
// clients/js/README.md; types in clients/js/quipu.d.ts.

// ---------------------------------------------------------------- errors

/**
 * An answer outside 2xx, or no answer at all. `status` is the HTTP status
 * (0 when the request never got an answer: `code` is then "network_error" or
 * "aborted"); `code`, `message`, `path` come from the node's error envelope
 * {"error":{"code","message","path"}}; `requestId` is the X-Request-Id header;
 * `retryAfter` the Retry-After header in seconds (or null); `body` the parsed
 * answer (JSON object, or text) for extra fields such as `line`/`column`.
 */
export class QuipuError extends Error {
  constructor({ status = 0, code = "error", message = "", path = null, requestId = null,
    retryAfter = null, body = null, cause } = {}) {
    super(message || code, cause === undefined ? undefined : { cause });
    this.name = "QuipuError";
    this.status = status;
    this.code = code;
    this.path = path;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
    this.body = body;
    const err = body && typeof body === "object" ? body.error : null;
    this.line = err && err.line !== undefined ? err.line : null;
    this.column = err && err.column !== undefined ? err.column : null;
  }
}

// Retry-After is either delta-seconds or an HTTP date; answers seconds (>= 0) or null.
function parseRetryAfter(value) {
  if (value === null || value === undefined || value === "") return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const when = Date.parse(value);
  if (Number.isNaN(when)) return null;
  return Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

async function errorFromResponse(res) {
  const text = await res.text().catch(() => "");
  let body = text;
  const type = res.headers.get("content-type") || "";
  if (type.includes("json") && text) {
    try { body = JSON.parse(text); } catch { body = text; }
  }
  const env = body && typeof body === "object" && body.error && typeof body.error === "object"
    ? body.error : {};
  return new QuipuError({
    status: res.status,
    code: typeof env.code === "string" ? env.code : `http_${res.status}`,
    message: typeof env.message === "string" ? env.message
      : (typeof body === "string" && body ? body.slice(0, 200) : res.statusText || ""),
    path: typeof env.path === "string" ? env.path : null,
    requestId: res.headers.get("x-request-id"),
    retryAfter: parseRetryAfter(res.headers.get("retry-after")),
    body,
  });
}

// ---------------------------------------------------------------- money

// ISO 4217 minor units that differ from 2 (the same table as src/auth and
// src/payments/currency.c), and the numeric codes quipu knows (ledger ids).
const DECIMALS = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0,
  UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};
const NUMERIC = {
  784: "AED", 32: "ARS", 36: "AUD", 50: "BDT", 48: "BHD", 108: "BIF", 986: "BRL", 124: "CAD",
  756: "CHF", 990: "CLF", 152: "CLP", 156: "CNY", 170: "COP", 203: "CZK", 262: "DJF", 208: "DKK",
  818: "EGP", 978: "EUR", 826: "GBP", 324: "GNF", 344: "HKD", 348: "HUF", 360: "IDR", 376: "ILS",
  356: "INR", 368: "IQD", 352: "ISK", 400: "JOD", 392: "JPY", 404: "KES", 116: "KHR", 174: "KMF",
  410: "KRW", 414: "KWD", 144: "LKR", 434: "LYD", 446: "MOP", 484: "MXN", 458: "MYR", 566: "NGN",
  578: "NOK", 554: "NZD", 512: "OMR", 604: "PEN", 608: "PHP", 586: "PKR", 985: "PLN", 600: "PYG",
  634: "QAR", 646: "RWF", 682: "SAR", 752: "SEK", 702: "SGD", 764: "THB", 788: "TND", 949: "TRY",
  901: "TWD", 980: "UAH", 800: "UGX", 840: "USD", 940: "UYI", 858: "UYU", 927: "UYW", 704: "VND",
  548: "VUV", 950: "XAF", 952: "XOF", 953: "XPF", 710: "ZAR",
};

/**
 * The number of minor-unit digits of a currency: an ISO 4217 alphabetic code
 * ("USD", "JPY", any three letters: 2 unless listed) or a numeric code that
 * quipu knows (840, "392"). Throws RangeError for anything else.
 */
export function currencyDecimals(currency) {
  const numeric = typeof currency === "string" && /^\d{1,3}$/.test(currency);
  if (typeof currency === "number" || numeric) {
    const alpha = NUMERIC[Number(currency)];
    if (!alpha) throw new RangeError(`unknown ISO 4217 numeric currency code ${currency}`);
    return DECIMALS[alpha] ?? 2;
  }
  if (typeof currency !== "string" || !/^[A-Z]{3}$/.test(currency)) {
    throw new RangeError(`currency must be an ISO 4217 code such as "USD", ` +
      `not ${String(currency)}`);
  }
  return DECIMALS[currency] ?? 2;
}

function minorToBigInt(minor) {
  if (typeof minor === "bigint") return minor;
  if (typeof minor === "number") {
    if (!Number.isSafeInteger(minor)) {
      throw new RangeError("a minor-unit amount given as a number must be a safe integer; " +
        "pass a decimal string or a BigInt");
    }
    return BigInt(minor);
  }
  if (typeof minor === "string" && /^-?\d+$/.test(minor)) return BigInt(minor);
  throw new RangeError("a minor-unit amount must be an integer string or BigInt, " +
    `not ${String(minor)}`);
}

/**
 * Minor units -> major units as a string: toMajor("1234", "USD") === "12.34",
 * toMajor(5n, "KWD") === "0.005", toMajor("500", "JPY") === "500". Exact for
 * any size (BigInt); negative amounts keep their sign.
 */
export function toMajor(minor, currency) {
  const digits = currencyDecimals(currency);
  let v = minorToBigInt(minor);
  const negative = v < 0n;
  if (negative) v = -v;
  let s = v.toString();
  if (digits > 0) {
    s = s.padStart(digits + 1, "0");
    s = `${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
  }
  return negative && v !== 0n ? `-${s}` : s;
}

/**
 * Major units (a string typed by a person) -> minor units as a decimal string:
 * toMinor("12.34", "USD") === "1234", toMinor("12.3", "USD") === "1230",
 * toMinor("1.5", "JPY") throws. Accepts an optional leading "-", digits, and
 * at most the currency's decimals after one "."; refuses numbers (floats),
 * spaces, separators, exponents, "1." and ".5" with a RangeError/TypeError.
 */
export function toMinor(major, currency) {
  if (typeof major !== "string") {
    throw new TypeError("toMinor takes the amount as a string (never a float), e.g. \"12.34\"");
  }
  const digits = currencyDecimals(currency);
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(major);
  if (!m) {
    throw new RangeError(`"${major}" is not an amount: use digits with an optional "." ` +
      `and up to ${digits} decimals`);
  }
  const [, sign, whole, frac = ""] = m;
  if (frac.length > digits) {
    throw new RangeError(`"${major}" has ${frac.length} decimals; ${String(currency)} allows ` +
      `${digits}`);
  }
  const v = BigInt(whole + frac.padEnd(digits, "0"));
  return sign && v !== 0n ? `-${v}` : v.toString();
}

// ---------------------------------------------------------------- SSE

/**
 * An incremental parser of a text/event-stream (the HTML standard's
 * "event stream interpretation"): feed it decoded text in chunks of any size
 * (a CRLF may be split across chunks), it calls onEvent({type, data, id}) per
 * dispatched event, onComment(text) per comment line and onRetry(ms) per valid
 * `retry:` field. A leading BOM is dropped; an event unfinished at the end of
 * the stream is discarded (call end()).
 */
export class SseParser {
  constructor({ onEvent, onComment, onRetry } = {}) {
    this.onEvent = onEvent || (() => {});
    this.onComment = onComment || (() => {});
    this.onRetry = onRetry || (() => {});
    this.buffer = "";
    this.first = true;
    this.pendingCR = false;
    this.data = "";
    this.type = "";
    this.lastEventId = "";
  }

  feed(text) {
    if (text.length === 0) return;
    if (this.first && text.length > 0) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // A CR that ended the previous chunk already ended its line: an LF
    // starting this chunk belongs to it.
    if (this.pendingCR && text.startsWith("\n")) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;
    let start = 0;
    for (;;) {
      const lf = this.buffer.indexOf("\n", start);
      const cr = this.buffer.indexOf("\r", start);
      if (lf < 0 && cr < 0) break;
      let end;
      let next;
      if (cr >= 0 && (lf < 0 || cr < lf)) {
        end = cr;
        if (cr + 1 === this.buffer.length) {
          next = cr + 1;
          this.pendingCR = true;
        } else {
          next = this.buffer[cr + 1] === "\n" ? cr + 2 : cr + 1;
        }
      } else {
        end = lf;
        next = lf + 1;
      }
      this.line(this.buffer.slice(start, end));
      start = next;
    }
    this.buffer = this.buffer.slice(start);
  }

  /** The stream ended: a partial line and an undispatched event are dropped. */
  end() {
    this.buffer = "";
    this.data = "";
    this.type = "";
  }

  line(line) {
    if (line === "") { this.dispatch(); return; }
    if (line[0] === ":") { this.onComment(line.slice(1).replace(/^ /, "")); return; }
    const colon = line.indexOf(":");
    let field = line;
    let value = "";
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value[0] === " ") value = value.slice(1);
    }
    switch (field) {
      case "event": this.type = value; break;
      case "data": this.data += `${value}\n`; break;
      case "id": if (!value.includes("\0")) this.lastEventId = value; break;
      case "retry": if (/^\d+$/.test(value)) this.onRetry(Number(value)); break;
      default: break; // unknown fields are ignored
    }
  }

  dispatch() {
    if (this.data === "") { this.type = ""; return; }
    const data = this.data.slice(0, -1);
    const type = this.type || "message";
    this.data = "";
    this.type = "";
    this.onEvent({ type, data, id: this.lastEventId });
  }
}

const sleep = (ms, signal) => new Promise((resolve) => {
  if (signal && signal.aborted) { resolve(); return; }
  const t = setTimeout(done, ms);
  function done() {
    clearTimeout(t);
    if (signal) signal.removeEventListener("abort", done);
    resolve();
  }
  if (signal) signal.addEventListener("abort", done, { once: true });
});

// ---------------------------------------------------------------- WebAuthn

function b64urlToBytes(s) {
  if (typeof s !== "string" || !/^[A-Za-z0-9_-]*={0,2}$/.test(s)) {
    throw new TypeError("not base64url text");
  }
  const b64 = s.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesToB64url(buf) {
  if (buf === null || buf === undefined) return null;
  const bytes = buf instanceof Uint8Array ? buf
    : ArrayBuffer.isView(buf) ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
      : new Uint8Array(buf);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function descriptorsFromJSON(list) {
  return (list || []).map((d) => ({ ...d, id: b64urlToBytes(d.id) }));
}

function callIf(obj, name) {
  return obj && typeof obj[name] === "function" ? obj[name]() : undefined;
}

/**
 * WebAuthn helpers: the node speaks the WebAuthn Level 3 JSON forms
 * (PublicKeyCredentialCreationOptionsJSON, ...); the browser API takes and
 * gives buffers. These convert both ways without relying on the browser's
 * parse*FromJSON/toJSON (not in every browser yet).
 */
export const webauthn = {
  base64urlToBytes: b64urlToBytes,
  bytesToBase64url: bytesToB64url,

  /** PublicKeyCredentialCreationOptionsJSON -> options for navigator.credentials.create. */
  creationOptionsFromJSON(json) {
    const o = { ...json, challenge: b64urlToBytes(json.challenge) };
    if (json.user) o.user = { ...json.user, id: b64urlToBytes(json.user.id) };
    if (json.excludeCredentials) {
      o.excludeCredentials = descriptorsFromJSON(json.excludeCredentials);
    }
    return o;
  },

  /** PublicKeyCredentialRequestOptionsJSON -> options for navigator.credentials.get. */
  requestOptionsFromJSON(json) {
    const o = { ...json, challenge: b64urlToBytes(json.challenge) };
    if (json.allowCredentials) o.allowCredentials = descriptorsFromJSON(json.allowCredentials);
    return o;
  },

  /** PublicKeyCredential -> RegistrationResponseJSON / AuthenticationResponseJSON. */
  credentialToJSON(cred) {
    const r = cred.response;
    const response = { clientDataJSON: bytesToB64url(r.clientDataJSON) };
    if (r.attestationObject !== undefined) {
      response.attestationObject = bytesToB64url(r.attestationObject);
      const transports = callIf(r, "getTransports");
      if (transports) response.transports = transports;
      const authData = callIf(r, "getAuthenticatorData");
      if (authData) response.authenticatorData = bytesToB64url(authData);
      const alg = callIf(r, "getPublicKeyAlgorithm");
      if (alg !== undefined) response.publicKeyAlgorithm = alg;
      const pk = callIf(r, "getPublicKey");
      if (pk) response.publicKey = bytesToB64url(pk);
    } else {
      response.authenticatorData = bytesToB64url(r.authenticatorData);
      response.signature = bytesToB64url(r.signature);
      if (r.userHandle) response.userHandle = bytesToB64url(r.userHandle);
    }
    const out = {
      id: cred.id,
      rawId: bytesToB64url(cred.rawId),
      type: cred.type || "public-key",
      response,
      clientExtensionResults: callIf(cred, "getClientExtensionResults") || {},
    };
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    return out;
  },

  /** navigator.credentials.create from the node's JSON options; answers the JSON to post back. */
  async create(publicKeyJSON, { signal, credentials } = {}) {
    const c = credentials || globalThis.navigator.credentials;
    const cred = await c.create({ publicKey: webauthn.creationOptionsFromJSON(publicKeyJSON),
      signal });
    return webauthn.credentialToJSON(cred);
  },

  /** navigator.credentials.get from the node's JSON options; answers the JSON to post back. */
  async get(publicKeyJSON, { signal, credentials, mediation } = {}) {
    const c = credentials || globalThis.navigator.credentials;
    const opts = { publicKey: webauthn.requestOptionsFromJSON(publicKeyJSON), signal };
    if (mediation) opts.mediation = mediation;
    const cred = await c.get(opts);
    return webauthn.credentialToJSON(cred);
  },
};

// ---------------------------------------------------------------- the client

const enc = encodeURIComponent;

function newIdempotencyKey() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  return bytesToB64url(b);
}

function queryString(query) {
  if (!query) return "";
  const parts = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    for (const item of Array.isArray(v) ? v : [v]) parts.push(`${enc(k)}=${enc(String(item))}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

const RETRY_STATUS = new Set([429, 502, 503, 504]);

// BigInt values in a body go out as decimal strings (the node's form for big integers).
function bigintAsString(key, value) {
  return typeof value === "bigint" ? value.toString() : value;
}

/**
 * A client of one node. Options: baseUrl ("" = same origin in a page),
 * apiKey (sent as Authorization: Bearer), fetch (defaults to globalThis.fetch),
 * headers (added to every request), credentials (fetch's; default
 * "same-origin" so the wallet's session cookie goes along), retries (how many
 * times a request is retried after a network error, 429 or 502/503/504; 0 by
 * default), retryDelayMs (first back-off, doubled each time; Retry-After wins),
 * retryDelayMaxMs (the longest wait).
 */
export class Quipu {
  constructor({ baseUrl = "", apiKey, fetch: fetchFn, headers, credentials = "same-origin",
    retries = 0, retryDelayMs = 200, retryDelayMaxMs = 5000 } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.apiKey = apiKey || null;
    // Called unbound: a browser's fetch throws "Illegal invocation" when its
    // `this` is another object (the client), not when it is undefined.
    this.fetch = fetchFn ? (...a) => fetchFn(...a) : (...a) => globalThis.fetch(...a);
    this.headers = headers || {};
    this.credentials = credentials;
    this.retries = retries;
    this.retryDelayMs = retryDelayMs;
    this.retryDelayMaxMs = retryDelayMaxMs;
    this.ledger = new Ledger(this);
    this.auth = new Auth(this);
    this.payments = new Payments(this);
    this.risk = new Risk(this);
    this.chain = new Chain(this);
    this.wallet = new Wallet(this);
  }

  url(path, query) {
    return `${this.baseUrl}${path}${queryString(query)}`;
  }

  headersFor(extra) {
    const h = { ...this.headers };
    if (this.apiKey) h.Authorization = `Bearer ${this.apiKey}`;
    return Object.assign(h, extra || {});
  }

  /**
   * One API call. opts: query (object; undefined/null values are left out,
   * arrays repeat the parameter), body (JSON-encoded, BigInts as decimal
   * strings; a string is sent as text/plain unless headers name a
   * Content-Type), idempotencyKey
   * (POSTs get a fresh UUID unless given; every retry of this call reuses it),
   * headers, signal, retries (overrides the client's), responseType ("auto":
   * JSON when the answer is JSON, else text; "text"; "json"; "response": the
   * raw Response, not consumed). Resolves to the parsed answer (null for an
   * empty body); rejects with QuipuError.
   */
  async request(method, path, opts = {}) {
    const { query, body, headers, signal, responseType = "auto" } = opts;
    const h = this.headersFor(headers);
    const init = { method, headers: h, credentials: this.credentials, signal };
    if (body !== undefined) {
      const hasType = Object.keys(h).some((k) => k.toLowerCase() === "content-type");
      if (typeof body === "string") {
        if (!hasType) h["Content-Type"] = "text/plain; charset=utf-8";
        init.body = body;
      } else {
        if (!hasType) h["Content-Type"] = "application/json";
        init.body = JSON.stringify(body, bigintAsString);
      }
    } else if (method === "POST") {
      // The node's POST routes take JSON; an empty object where none is needed.
      h["Content-Type"] = "application/json";
      init.body = "{}";
    }
    if (method === "POST") h["Idempotency-Key"] = opts.idempotencyKey || newIdempotencyKey();
    else if (opts.idempotencyKey) h["Idempotency-Key"] = opts.idempotencyKey;
    const res = await this.send(this.url(path, query), init, opts.retries ?? this.retries);
    return readAnswer(res, responseType);
  }

  // fetch with retries: the same init (so the same Idempotency-Key) each time.
  async send(url, init, retries) {
    for (let attempt = 0; ; attempt++) {
      let res;
      try {
        res = await this.fetch(url, init);
      } catch (e) {
        if (init.signal && init.signal.aborted) {
          throw new QuipuError({ code: "aborted", message: "the request was aborted", cause: e });
        }
        if (attempt < retries) { await sleep(this.backoff(attempt, null), init.signal); continue; }
        throw new QuipuError({ code: "network_error",
          message: `no answer from ${url}: ${e && e.message ? e.message : e}`, cause: e });
      }
      if (res.ok) return res;
      const err = await errorFromResponse(res);
      if (attempt < retries && RETRY_STATUS.has(res.status)) {
        await sleep(this.backoff(attempt, err.retryAfter), init.signal);
        continue;
      }
      throw err;
    }
  }

  backoff(attempt, retryAfter) {
    if (retryAfter !== null && retryAfter !== undefined) {
      return Math.min(retryAfter * 1000, this.retryDelayMaxMs);
    }
    return Math.min(this.retryDelayMs * 2 ** attempt, this.retryDelayMaxMs);
  }

  /**
   * Every item of a cursor-paginated list ({"data":[…],"next_cursor"}): an
   * async iterator that asks for the next page (query.cursor) when the page
   * in hand is used up. `query.limit` is the page size.
   */
  async *paginate(path, query = {}, opts = {}) {
    let cursor = query.cursor;
    for (let pages = 0; ; pages++) {
      const page = await this.request("GET", path, { ...opts, query: { ...query, cursor } });
      const data = Array.isArray(page && page.data) ? page.data : [];
      for (const item of data) yield item;
      cursor = page ? page.next_cursor : null;
      if (cursor === null || cursor === undefined || cursor === "") return;
    }
  }

  /**
   * Server-Sent Events from a GET route, over fetch streaming (so the API
   * key's Authorization header works, not only cookies). Handlers:
   * onEvent(type, data, id) — data is parsed JSON when it parses, else the
   * text (json: false always gives text); onOpen(response); onComment(text);
   * onError(error) — a QuipuError for an answer outside 200 (the stream then
   * stops: no retry on 4xx) or a network error (retried after the server's
   * `retry:` or retryMs, default 1000 ms, with Last-Event-ID). A stream the
   * server ends is reopened likewise unless reconnect is false or a function
   * of the last event {type, data, id} answering false; 204 never is.
   * signal or close() ends it; `done` is a promise settled once it has ended.
   * A handler that throws does not break the stream (its error goes to
   * reportError, or is rethrown from a timer).
   */
  events(path, handlers = {}) {
    const ctl = new AbortController();
    if (handlers.signal) {
      if (handlers.signal.aborted) ctl.abort();
      else handlers.signal.addEventListener("abort", () => ctl.abort(), { once: true });
    }
    const done = runEvents(this, path, handlers, ctl.signal);
    return { close: () => ctl.abort(), done };
  }
}

async function readAnswer(res, responseType) {
  if (responseType === "response") return res;
  const text = await res.text();
  if (responseType === "text") return text;
  if (responseType === "json") return text ? JSON.parse(text) : null;
  const type = res.headers.get("content-type") || "";
  if (type.includes("json")) return text ? JSON.parse(text) : null;
  return text;
}

// A handler that throws must not be taken for a broken stream: its error is
// reported as an event listener's would be (reportError in browsers; in Node,
// rethrown from a timer: an uncaught exception).
function callHandler(fn, ...args) {
  if (!fn) return;
  try {
    fn(...args);
  } catch (e) {
    if (typeof globalThis.reportError === "function") globalThis.reportError(e);
    else setTimeout(() => { throw e; }, 0);
  }
}

// After the server ended a stream cleanly: reconnect? (false, true, or a function of the
// last event).
function reconnectAfterEnd(h, last) {
  if (typeof h.reconnect === "function") return Boolean(h.reconnect(last));
  return h.reconnect !== false;
}

// One SSE subscription: connect, read, reconnect (as EventSource does) until aborted.
async function runEvents(client, path, h, signal) {
  let retryMs = h.retryMs ?? 1000;
  let lastId = h.lastEventId || "";
  let last = null;
  const emit = ({ type, data, id }) => {
    lastId = id;
    let value = data;
    if (h.json !== false) { try { value = JSON.parse(data); } catch { value = data; } }
    last = { type, data: value, id };
    callHandler(h.onEvent, type, value, id);
  };
  while (!signal.aborted) {
    const parser = new SseParser({ onEvent: emit,
      onComment: (c) => callHandler(h.onComment, c),
      onRetry: (ms) => { retryMs = ms; } });
    parser.lastEventId = lastId;
    try {
      const headers = client.headersFor({ Accept: "text/event-stream", ...(h.headers || {}) });
      if (lastId) headers["Last-Event-ID"] = lastId;
      const res = await client.fetch(client.url(path, h.query),
        { method: "GET", headers, credentials: client.credentials, signal, cache: "no-store" });
      if (!res.ok) {
        const err = await errorFromResponse(res);
        callHandler(h.onError, err);
        if (res.status < 500 || h.reconnect === false) return;
      } else if (res.status === 204) {
        return; // the server's way to say "do not reconnect"
      } else {
        callHandler(h.onOpen, res);
        await readStream(res, parser);
        parser.end();
        if (!reconnectAfterEnd(h, last)) return;
      }
    } catch (e) {
      if (signal.aborted) return;
      callHandler(h.onError, e instanceof QuipuError ? e : new QuipuError({
        code: "network_error", message: `event stream ${path}: ${e && e.message ? e.message : e}`,
        cause: e }));
      if (h.reconnect === false) return;
    }
    await sleep(retryMs, signal);
  }
}

async function readStream(res, parser) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder("utf-8");
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    parser.feed(decoder.decode());
  } finally {
    reader.releaseLock();
  }
}

// ---------------------------------------------------------------- namespaces

class Namespace {
  constructor(client) { this.q = client; }
  get(path, query, opts) { return this.q.request("GET", path, { ...opts, query }); }
  post(path, body, opts) { return this.q.request("POST", path, { ...opts, body }); }
  put(path, body, opts) { return this.q.request("PUT", path, { ...opts, body }); }
  del(path, opts) { return this.q.request("DELETE", path, opts); }
}

/** The ledger (docs/api.md): accounts, transfers, history, queries, audit. */
class Ledger extends Namespace {
  createAccounts(accounts, opts) { return this.post("/v1/accounts", accounts, opts); }
  createTransfers(transfers, opts) { return this.post("/v1/transfers", transfers, opts); }
  getAccount(id, opts) { return this.get(`/v1/accounts/${enc(id)}`, undefined, opts); }
  getTransfer(id, opts) { return this.get(`/v1/transfers/${enc(id)}`, undefined, opts); }
  /** {transfers, next}; query: limit, from, to, reversed, debits, credits. */
  accountTransfers(id, query, opts) {
    return this.get(`/v1/accounts/${enc(id)}/transfers`, query, opts);
  }
  accountBalances(id, query, opts) {
    return this.get(`/v1/accounts/${enc(id)}/balances`, query, opts);
  }
  lookupAccounts(ids, opts) { return this.post("/v1/accounts/lookup", { ids }, opts); }
  lookupTransfers(ids, opts) { return this.post("/v1/transfers/lookup", { ids }, opts); }
  queryAccounts(filter = {}, opts) { return this.post("/v1/accounts/query", filter, opts); }
  queryTransfers(filter = {}, opts) { return this.post("/v1/transfers/query", filter, opts); }
  audit(opts) { return this.get("/v1/audit", undefined, opts); }

  /** Every transfer of an account, following `next` (as `from`, or `to` when reversed). */
  async *allAccountTransfers(id, query = {}) {
    let q = { ...query };
    for (;;) {
      const page = await this.accountTransfers(id, q);
      for (const t of page.transfers) yield t;
      if (page.next === null || page.next === undefined) return;
      q = truthy(q.reversed) ? { ...q, to: page.next } : { ...q, from: page.next };
    }
  }
}

function truthy(v) { return v === true || v === "true" || v === 1 || v === "1"; }

// A body given as a string id, or an object as is.
function idBody(v, name) { return typeof v === "string" ? { [name]: v } : v; }
function noteBody(note) { return note === undefined || note === null ? {} : { note }; }

/** Users, passkeys and payment intents (docs/auth.md). */
class Auth extends Namespace {
  /** {handle, display_name} -> the user {id, handle, display_name, created}. */
  createUser(user, opts) { return this.post("/v1/users", user, opts); }
  credentials(userId, opts) {
    return this.get(`/v1/users/${enc(userId)}/credentials`, undefined, opts);
  }
  deleteCredential(userId, credentialId, opts) {
    return this.del(`/v1/users/${enc(userId)}/credentials/${enc(credentialId)}`, opts);
  }
  /** userId (or {user_id}) -> {ceremony, expires_at, publicKey: CreationOptionsJSON}. */
  registerOptions(userId, opts) {
    return this.post("/v1/webauthn/register/options", idBody(userId, "user_id"), opts);
  }
  /** (ceremony, RegistrationResponseJSON) or ({ceremony, credential}) -> the stored credential. */
  registerVerify(ceremony, credential, opts) {
    const body = typeof ceremony === "string" ? { ceremony, credential } : ceremony;
    return this.post("/v1/webauthn/register/verify", body, typeof ceremony === "string" ? opts
      : credential);
  }
  /** {user_id, debit_account_id, credit_account_id, amount, ledger, currency, payee_name, ...}. */
  createIntent(intent, opts) { return this.post("/v1/payment-intents", intent, opts); }
  getIntent(id, opts) { return this.get(`/v1/payment-intents/${enc(id)}`, undefined, opts); }
  /** One page {data, next_cursor} of GET /v1/payment-intents (query: limit, cursor, ...). */
  listIntents(query, opts) { return this.get("/v1/payment-intents", query, opts); }
  /** -> {publicKey: RequestOptionsJSON, expires_at, secure_payment_confirmation}. */
  challenge(id, opts) { return this.post(`/v1/payment-intents/${enc(id)}/challenge`, {}, opts); }
  /** AuthenticationResponseJSON -> the intent, status "succeeded". */
  confirm(id, credential, opts) {
    return this.post(`/v1/payment-intents/${enc(id)}/confirm`, { credential }, opts);
  }
  cancel(id, opts) { return this.post(`/v1/payment-intents/${enc(id)}/cancel`, {}, opts); }
  /** An operator's answer to an intent in review (scope risk:admin); note optional. */
  approve(id, note, opts) {
    return this.post(`/v1/payment-intents/${enc(id)}/approve`, noteBody(note), opts);
  }
  decline(id, note, opts) {
    return this.post(`/v1/payment-intents/${enc(id)}/decline`, noteBody(note), opts);
  }

  // Operators: the console's passkeys (docs/auth.md "Operators").
  /** One page {data, next_cursor} of operators by name, with their passkeys (scope admin). */
  listOperators(query, opts) { return this.get("/v1/operators", query, opts); }
  /** name -> {ceremony_id, operator, publicKey: CreationOptionsJSON, expires_at} (admin). */
  operatorPasskeyOptions(name, opts) {
    return this.post("/v1/operators/passkeys/options", { name }, opts);
  }
  /** (ceremony_id, RegistrationResponseJSON) -> {operator, credential_id, created, created_by}. */
  operatorPasskeyVerify(ceremonyId, credential, opts) {
    return this.post("/v1/operators/passkeys/verify", { ceremony_id: ceremonyId, credential },
      opts);
  }
  deleteOperator(name, opts) { return this.del(`/v1/operators/${enc(name)}`, opts); }
  deleteOperatorPasskey(name, credentialId, opts) {
    return this.del(`/v1/operators/${enc(name)}/passkeys/${enc(credentialId)}`, opts);
  }
  /** name (optional: a discoverable passkey) -> {ceremony_id, publicKey, expires_at}; no key. */
  operatorLoginOptions(name, opts) {
    return this.post("/v1/operators/login/options", name ? { name } : {}, opts);
  }
  /** (ceremony_id, AuthenticationResponseJSON) -> {key, expires_at, operator}: an admin key
   * that expires (use it as the apiKey of a new Quipu). */
  operatorLoginVerify(ceremonyId, credential, opts) {
    return this.post("/v1/operators/login/verify", { ceremony_id: ceremonyId, credential }, opts);
  }
  /** Revokes the calling key when it is a console key -> {revoked}. */
  operatorLogout(opts) { return this.post("/v1/operators/logout", {}, opts); }
}

const FINAL_ORDER_STATES = new Set(["refunded", "expired", "canceled"]);

/** Merchants, orders, refunds, webhooks, QR, devices (docs/payments.md). */
class Payments extends Namespace {
  createMerchant(merchant, opts) { return this.post("/v1/merchants", merchant, opts); }
  getMerchant(id, opts) { return this.get(`/v1/merchants/${enc(id)}`, undefined, opts); }
  /** -> {id, name, merchant_id, scopes, ledgers, key}: the key text is shown once. */
  createMerchantKey(merchantId, body = {}, opts) {
    return this.post(`/v1/merchants/${enc(merchantId)}/keys`, body, opts);
  }
  /** {merchant_id, amount, ledger, currency, description?, reference?, expires_in_s?}. */
  createOrder(order, opts) { return this.post("/v1/orders", order, opts); }
  getOrder(id, opts) { return this.get(`/v1/orders/${enc(id)}`, undefined, opts); }
  /** One page; query: limit, cursor, status, created_from, created_to, merchant_id. */
  listOrders(query, opts) { return this.get("/v1/orders", query, opts); }
  cancelOrder(id, opts) { return this.post(`/v1/orders/${enc(id)}/cancel`, {}, opts); }
  /** The open order's QR code as SVG text. */
  orderQrSvg(id, opts) {
    return this.get(`/v1/orders/${enc(id)}/qr.svg`, undefined, { ...opts, responseType: "text" });
  }
  /** The open order's QR code as PNG: a Blob. */
  async orderQrPng(id, opts) {
    const res = await this.get(`/v1/orders/${enc(id)}/qr.png`, undefined,
      { ...opts, responseType: "response" });
    return res.blob();
  }
  /**
   * `event: order` frames while the order changes (GET /v1/orders/{id}/events). The node
   * ends the stream after a final state; it is not reopened then (after a network
   * failure it is). handlers.reconnect overrides.
   */
  orderEvents(id, handlers = {}) {
    const reconnect = handlers.reconnect ?? ((last) => !(last && last.data
      && FINAL_ORDER_STATES.has(last.data.status)));
    return this.q.events(`/v1/orders/${enc(id)}/events`, { ...handlers, reconnect });
  }
  /** Collect an open order with the 18-digit payment code the customer shows. */
  collect(id, paymentCode, opts) {
    return this.post(`/v1/orders/${enc(id)}/collect`, { payment_code: paymentCode }, opts);
  }
  /** {order_id, amount, reason?}. */
  createRefund(refund, opts) { return this.post("/v1/refunds", refund, opts); }
  getRefund(id, opts) { return this.get(`/v1/refunds/${enc(id)}`, undefined, opts); }
  listRefunds(query, opts) { return this.get("/v1/refunds", query, opts); }
  /** {url, events: [...]} -> the endpoint with its secret (shown once). */
  createWebhook(webhook, opts) { return this.post("/v1/webhooks", webhook, opts); }
  listWebhooks(query, opts) { return this.get("/v1/webhooks", query, opts); }
  deleteWebhook(id, opts) { return this.del(`/v1/webhooks/${enc(id)}`, opts); }
  deliveries(id, query, opts) {
    return this.get(`/v1/webhooks/${enc(id)}/deliveries`, query, opts);
  }
  /** Decode any EMV MPM payload: {crc, order_id?, tags}. */
  parseQr(payload, opts) { return this.post("/v1/qr/parse", { payload }, opts); }
  /** {user_id, account_id, ledger, name?} -> the device with its secret (shown once). */
  enrollDevice(device, opts) { return this.post("/v1/devices", device, opts); }
  getDevice(id, opts) { return this.get(`/v1/devices/${enc(id)}`, undefined, opts); }
  revokeDevice(id, opts) { return this.del(`/v1/devices/${enc(id)}`, opts); }
  /** The device's current payment code. */
  deviceCode(id, opts) { return this.get(`/v1/devices/${enc(id)}/code`, undefined, opts); }
}

/** The risk engine (docs/risk.md). */
class Risk extends Namespace {
  /** One event (object) -> one decision; an array -> an array of decisions. */
  decide(events, opts) { return this.post("/v1/risk/decide", events, opts); }
  getRuleset(opts) { return this.get("/v1/risk/ruleset", undefined, opts); }
  /** The ruleset's text; opts.mode "shadow" installs a candidate. A compile error is a
   * QuipuError code "ruleset_invalid" with line/column and body.error.errors. */
  putRuleset(text, opts = {}) {
    const { mode, ...rest } = opts;
    return this.put("/v1/risk/ruleset", String(text), { ...rest,
      query: mode ? { mode } : undefined });
  }
  shadow(opts) { return this.get("/v1/risk/shadow", undefined, opts); }
  stopShadow(opts) { return this.del("/v1/risk/shadow", opts); }
  lists(opts) { return this.get("/v1/risk/lists", undefined, opts); }
  list(name, opts) { return this.get(`/v1/risk/lists/${enc(name)}`, undefined, opts); }
  /** ({add, remove}) -> {name, kind, size, added, removed}. */
  updateList(name, change, opts) { return this.post(`/v1/risk/lists/${enc(name)}`, change, opts); }
  rules(opts) { return this.get("/v1/risk/rules", undefined, opts); }
  /** {reason, until} or {reason, duration_s}. */
  snooze(rule, body, opts) { return this.post(`/v1/risk/rules/${enc(rule)}/snooze`, body, opts); }
  unsnooze(rule, opts) { return this.del(`/v1/risk/rules/${enc(rule)}/snooze`, opts); }
  /** query: after, limit. */
  changes(query, opts) { return this.get("/v1/risk/changes", query, opts); }
  /** Counts per outcome per time bucket; query: bucket_s, buckets. */
  stats(query, opts) { return this.get("/v1/risk/stats", query, opts); }
  /** The most recent decisions; query: limit, outcome. */
  decisions(query, opts) { return this.get("/v1/risk/decisions", query, opts); }
}

/** The consortium chain (docs/chain.md). */
class Chain extends Namespace {
  status(opts) { return this.get("/v1/chain/status", undefined, opts); }
  block(height, opts) {
    return this.get(`/v1/chain/blocks/${enc(String(height))}`, undefined, opts);
  }
  /** opts.proof: true adds the inclusion proof. */
  tx(hash, opts = {}) {
    const { proof, ...rest } = opts;
    return this.get(`/v1/chain/txs/${enc(hash)}`, proof ? { proof: 1 } : undefined, rest);
  }
  query(app, method, args = {}, opts = {}) {
    const { proof, ...rest } = opts;
    const body = { app, method, args };
    if (proof) body.proof = true;
    return this.post("/v1/chain/query", body, rest);
  }
  nonce(sender, opts) { return this.get(`/v1/chain/nonce/${enc(sender)}`, undefined, opts); }
  kv(key, opts = {}) {
    const { proof, ...rest } = opts;
    return this.get(`/v1/chain/kv/${enc(key)}`, proof ? { proof: 1 } : undefined, rest);
  }
  /** One signed transaction (hex) -> {hash}; an array -> {results}. */
  submit(tx, opts) {
    return this.post("/v1/chain/txs", Array.isArray(tx) ? { txs: tx } : { tx }, opts);
  }
}

/**
 * The wallet (docs/wallet.md): routes under /v1/wallet that use the session
 * cookie set by signupVerify/loginVerify (in a page: same origin, the
 * browser keeps it; in Node pass a fetch that keeps cookies).
 */
class Wallet extends Namespace {
  signupOptions(handle, displayName, opts) {
    const body = typeof handle === "object" ? handle : { handle, display_name: displayName };
    return this.post("/v1/wallet/signup/options", body, opts);
  }
  signupVerify(signupId, credential, opts) {
    return this.post("/v1/wallet/signup/verify", { signup_id: signupId, credential }, opts);
  }
  /** handle optional: without it, a discoverable-credential login. */
  loginOptions(handle, opts) {
    return this.post("/v1/wallet/login/options", handle ? { handle } : {}, opts);
  }
  loginVerify(loginId, credential, opts) {
    return this.post("/v1/wallet/login/verify", { login_id: loginId, credential }, opts);
  }
  logout(opts) { return this.post("/v1/wallet/logout", {}, opts); }
  me(opts) { return this.get("/v1/wallet/me", undefined, opts); }
  /** One page {data, next_cursor}; query: month "YYYY-MM", q, limit, cursor. */
  bills(query, opts) { return this.get("/v1/wallet/bills", query, opts); }
  /** Every bill matching the query, page after page. */
  allBills(query) { return this.q.paginate("/v1/wallet/bills", query); }
  bill(id, opts) { return this.get(`/v1/wallet/bills/${enc(id)}`, undefined, opts); }
  user(handle, opts) { return this.get(`/v1/wallet/users/${enc(handle)}`, undefined, opts); }
  /** {to, amount (minor units, string), note?} -> {intent, publicKey}. */
  transfer({ to, amount, note } = {}, opts) {
    const body = { to, amount };
    if (note !== undefined && note !== null && note !== "") body.note = note;
    return this.post("/v1/wallet/transfers", body, opts);
  }
  intent(id, opts) { return this.get(`/v1/wallet/intents/${enc(id)}`, undefined, opts); }
  challenge(id, opts) { return this.post(`/v1/wallet/intents/${enc(id)}/challenge`, {}, opts); }
  confirmIntent(id, credential, opts) {
    return this.post(`/v1/wallet/intents/${enc(id)}/confirm`, { credential }, opts);
  }
  cancelIntent(id, opts) { return this.post(`/v1/wallet/intents/${enc(id)}/cancel`, {}, opts); }
  /** An EMV MPM payload (the scanned text) -> the Order. */
  scan(payload, opts) { return this.post("/v1/wallet/scan", { payload }, opts); }
  order(id, opts) { return this.get(`/v1/wallet/orders/${enc(id)}`, undefined, opts); }
  payOrder(id, opts) { return this.post(`/v1/wallet/orders/${enc(id)}/pay`, {}, opts); }
  paycodeUnlock(opts) { return this.post("/v1/wallet/paycode/unlock", {}, opts); }
  /** credential optional while a previous unlock is fresh. */
  paycode(credential, opts) {
    return this.post("/v1/wallet/paycode", credential ? { credential } : {}, opts);
  }
  /**
   * Live updates (GET /v1/wallet/events): handlers onBill(bill), onBalance(accounts),
   * onIntent(intent), and/or onEvent(type, data, id); onError, onOpen, signal.
   */
  events(handlers = {}) {
    const byType = { bill: handlers.onBill, balance: handlers.onBalance,
      intent: handlers.onIntent };
    return this.q.events("/v1/wallet/events", { ...handlers, onEvent: (type, data, id) => {
      if (byType[type]) byType[type](data, id);
      if (handlers.onEvent) handlers.onEvent(type, data, id);
    } });
  }
  // Operators (an API key with scope admin).
  adminUser(handle, opts) { return this.get("/v1/wallet/users", { handle }, opts); }
  deposit(handle, amount, opts) {
    return this.post(`/v1/wallet/users/${enc(handle)}/deposit`, { amount }, opts);
  }
  revokeSessions(handle, opts) {
    return this.del(`/v1/wallet/users/${enc(handle)}/sessions`, opts);
  }
}

export default Quipu;
