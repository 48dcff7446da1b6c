// transport.test.mjs - request() itself: 429 with retryAfter from a real
// rate-limited key, retries that honour Retry-After and reuse the
// Idempotency-Key, network errors, query strings; and events() against a
// local text/event-stream server: the Authorization header, frames split
// across writes, reconnection with Last-Event-ID after `retry:`, a 4xx
// ending the stream, 204 meaning "do not reconnect", close().
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { Quipu, QuipuError } from "../quipu.mjs";
import { Node } from "../test-support/node.mjs";

let node;
before(async () => { node = await new Node().start(); });
after(() => node.stop());

test("a rate-limited key: 429 rate_limited with retryAfter; retries wait and succeed", async () => {
  const q = new Quipu({ baseUrl: node.url, apiKey: node.slowKey });
  const answers = await Promise.all([1, 2, 3].map(() => q.ledger.audit().catch((e) => e)));
  const limited = answers.filter((a) => a instanceof QuipuError);
  assert.ok(limited.length >= 1, "three at once on --rate 1 --burst 1");
  for (const e of limited) {
    assert.equal(e.status, 429);
    assert.equal(e.code, "rate_limited");
    assert.ok(Number.isInteger(e.retryAfter) && e.retryAfter >= 1, String(e.retryAfter));
    assert.ok(e.requestId);
  }
  const patient = new Quipu({ baseUrl: node.url, apiKey: node.slowKey, retries: 3 });
  const t0 = Date.now();
  const r = await patient.ledger.audit();
  assert.equal(r.invariant_ok, true);
  assert.ok(Date.now() - t0 < 5000);
});

// A fetch that answers from a script and records what it was asked.
function scripted(answers) {
  const calls = [];
  const f = async (url, init) => {
    calls.push({ url, init });
    const a = answers.shift();
    if (a instanceof Error) throw a;
    return new Response(a.body ?? "", { status: a.status, headers: a.headers });
  };
  f.calls = calls;
  return f;
}

test("retries reuse the Idempotency-Key; the answer after them is returned", async () => {
  const json = { "Content-Type": "application/json" };
  const f = scripted([new TypeError("socket hang up"),
    { status: 503, headers: { ...json, "Retry-After": "0" },
      body: '{"error":{"code":"overloaded","message":"busy","path":""}}' },
    { status: 200, headers: json, body: '{"id":"o1"}' }]);
  const q = new Quipu({ baseUrl: "http://x", apiKey: "k", fetch: f, retries: 2, retryDelayMs: 1 });
  const r = await q.payments.createOrder({ amount: "1" });
  assert.deepEqual(r, { id: "o1" });
  assert.equal(f.calls.length, 3);
  const keys = f.calls.map((c) => c.init.headers["Idempotency-Key"]);
  assert.match(keys[0], /^[0-9a-f-]{36}$/);
  assert.deepEqual(keys, [keys[0], keys[0], keys[0]]);
  assert.equal(f.calls[0].init.headers.Authorization, "Bearer k");
  assert.equal(f.calls[0].init.headers["Content-Type"], "application/json");

  // A given key is sent as is; a GET gets none; no retries by default; 4xx never retried.
  const g = scripted([{ status: 200, headers: json, body: "{}" }, new TypeError("down"),
    { status: 409, headers: json, body: '{"error":{"code":"c","message":"m","path":"p"}}' }]);
  const q2 = new Quipu({ baseUrl: "http://x/", fetch: g, retries: 0 });
  await q2.request("POST", "/v1/x", { body: { amount: 2n ** 64n }, idempotencyKey: "mine" });
  assert.equal(g.calls[0].init.body, '{"amount":"18446744073709551616"}');
  assert.equal(g.calls[0].init.headers["Idempotency-Key"], "mine");
  assert.equal(g.calls[0].url, "http://x/v1/x");
  const net = await q2.request("GET", "/v1/y", { query: { a: "b c", n: null, l: [1, 2] } })
    .catch((e) => e);
  assert.equal(g.calls[1].url, "http://x/v1/y?a=b%20c&l=1&l=2");
  assert.equal(g.calls[1].init.headers["Idempotency-Key"], undefined);
  assert.equal(net.code, "network_error");
  assert.equal(net.status, 0);
  const c = await new Quipu({ baseUrl: "http://x", fetch: g, retries: 5 })
    .request("POST", "/v1/z").catch((e) => e);
  assert.equal(c.code, "c");
  assert.equal(g.calls.length, 3);
  assert.equal(g.calls[2].init.body, "{}");
});

test("a non-JSON error answer still makes a QuipuError", async () => {
  const f = scripted([{ status: 502, headers: { "Content-Type": "text/html", "X-Request-Id": "r1" },
    body: "<h1>Bad gateway</h1>" }]);
  const e = await new Quipu({ fetch: f }).request("GET", "/v1/a").catch((x) => x);
  assert.equal(e.status, 502);
  assert.equal(e.code, "http_502");
  assert.equal(e.requestId, "r1");
  assert.equal(e.body, "<h1>Bad gateway</h1>");
});

// A local event-stream server; `script[n]` is what connection n gets.
async function sseServer(script) {
  const seen = [];
  const server = createServer(async (req, res) => {
    const n = seen.length;
    seen.push({ auth: req.headers.authorization, last: req.headers["last-event-id"],
      accept: req.headers.accept });
    const step = script[n] || { status: 204 };
    if (step.status !== 200) {
      res.writeHead(step.status, { "Content-Type": "application/json" });
      res.end(step.body || "");
      return;
    }
    res.writeHead(200, { "Content-Type": "text/event-stream" });
    // Listen before writing: the client may be gone by the time the writes are done.
    if (step.hold) res.on("close", () => step.hold());
    for (const chunk of step.chunks) {
      res.write(chunk);
      await new Promise((r) => setTimeout(r, 5));
    }
    if (!step.hold) res.end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => server.close() };
}

test("events(): split frames, JSON data, reconnect with Last-Event-ID, 401 ends it", async () => {
  const s = await sseServer([
    { status: 200, chunks: ["retry: 20\r\n: ping\r\n\r\nevent: bill\r\nid: 4", "1\r\ndata: {\"a\"",
      ":1}\r\n\r", "\nevent: balance\nda", "ta: [1,\ndata: 2]\n\ndata: plain text\n\n"] },
    { status: 200, chunks: ["id: 43\ndata: \"again\"\n\n"] },
    { status: 401, body: '{"error":{"code":"session_required","message":"sign in","path":""}}' },
  ]);
  const got = [];
  const comments = [];
  const errors = [];
  const q = new Quipu({ baseUrl: s.url, apiKey: "k" });
  const sub = q.events("/v1/wallet/events", { onEvent: (t, d, id) => got.push([t, d, id]),
    onComment: (c) => comments.push(c), onError: (e) => errors.push(e) });
  await sub.done;
  s.close();
  assert.deepEqual(got, [["bill", { a: 1 }, "41"], ["balance", [1, 2], "41"],
    ["message", "plain text", "41"], ["message", "again", "43"]]);
  assert.deepEqual(comments, ["ping"]);
  assert.deepEqual(s.seen.map((x) => x.last), [undefined, "41", "43"]);
  assert.ok(s.seen.every((x) => x.auth === "Bearer k" && x.accept === "text/event-stream"));
  assert.equal(errors.length, 1);
  assert.equal(errors[0].status, 401);
  assert.equal(errors[0].code, "session_required");
});

test("events(): 204 stops reconnecting; close() ends an open stream; json: false", async () => {
  let closed;
  const serverSawClose = new Promise((r) => { closed = r; });
  const s = await sseServer([
    { status: 200, chunks: ["data: 1\n\n"] },
    { status: 204 },
    { status: 200, chunks: ["data: {\"x\":1}\n\n"], hold: () => closed() },
  ]);
  const q = new Quipu({ baseUrl: s.url });
  const first = [];
  const a = q.events("/e", { retryMs: 5, onEvent: (t, d) => first.push(d) });
  await a.done;
  assert.deepEqual(first, [1]);
  assert.equal(s.seen.length, 2);

  const texts = [];
  let sub;
  await new Promise((resolve) => {
    sub = q.events("/e", { json: false, onEvent: (t, d) => { texts.push(d); resolve(); } });
  });
  sub.close();
  await sub.done;
  await serverSawClose;
  s.close();
  assert.deepEqual(texts, ['{"x":1}']);
});

test("events(): reconnect as a function of the last event; a throwing handler", async (t) => {
  const s = await sseServer([
    { status: 200, chunks: ['event: order\ndata: {"status":"open"}\n\n'] },
    { status: 200, chunks: ['event: order\ndata: {"status":"canceled"}\n\n'] },
    { status: 200, chunks: ['data: "never asked for"\n\n'] },
  ]);
  const q = new Quipu({ baseUrl: s.url });
  const got = [];
  const sub = q.payments.orderEvents("o1", { retryMs: 5, onEvent: (t, d) => got.push(d.status) });
  await sub.done;
  assert.deepEqual(got, ["open", "canceled"]);
  assert.equal(s.seen.length, 2);

  const reported = [];
  globalThis.reportError = (e) => reported.push(e);
  t.after(() => { delete globalThis.reportError; });
  const s2 = await sseServer([{ status: 200, chunks: ["data: 1\n\ndata: 2\n\n"] }]);
  const seen = [];
  const sub2 = new Quipu({ baseUrl: s2.url }).events("/e", { reconnect: false,
    onEvent: (t, d) => { seen.push(d); if (d === 1) throw new Error("handler bug"); } });
  await sub2.done;
  assert.deepEqual(seen, [1, 2]);
  assert.deepEqual(reported.map((e) => e.message), ["handler bug"]);
  s.close();
  s2.close();
});
