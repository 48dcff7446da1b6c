// sse.test.mjs - the event-stream parser against the HTML standard's rules:
// chunks split anywhere (even between CR and LF), CR/LF/CRLF line ends,
// multi-line data, comments, id persistence, retry, BOM, unknown fields.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SseParser } from "../quipu.mjs";

function parse(chunks) {
  const events = [];
  const comments = [];
  const retries = [];
  const p = new SseParser({ onEvent: (e) => events.push(e), onComment: (c) => comments.push(c),
    onRetry: (ms) => retries.push(ms) });
  for (const c of chunks) p.feed(c);
  p.end();
  return { events, comments, retries };
}

// Every way of cutting `text` in two and three pieces gives the same events.
function allSplits(text) {
  const out = [[text]];
  for (let i = 0; i <= text.length; i++) {
    out.push([text.slice(0, i), text.slice(i)]);
    for (let j = i; j <= text.length; j += 3) {
      out.push([text.slice(0, i), text.slice(i, j), text.slice(j)]);
    }
  }
  return out;
}

const STREAM = "\ufeff: hello\r\nevent: bill\r\nid: 7\r\n" +
  "data: {\"a\":1,\r\ndata:  \"b\":2}\r\n\r\n" +
  ":ping\n\ndata: plain\rdata:second\r\rretry: 2500\nretry: x1\nfoo: bar\nid\ndata\n\n";

test("split chunks, CRLF, CR, LF, multi-line data, comments, id, retry", () => {
  const want = [
    { type: "bill", data: "{\"a\":1,\n \"b\":2}", id: "7" },
    { type: "message", data: "plain\nsecond", id: "7" },
    { type: "message", data: "", id: "" },
  ];
  for (const chunks of allSplits(STREAM)) {
    const { events, comments, retries } = parse(chunks);
    assert.deepEqual(events, want, JSON.stringify(chunks));
    assert.deepEqual(comments, ["hello", "ping"]);
    assert.deepEqual(retries, [2500]);
  }
});

test("an event without data is not dispatched; its type does not leak", () => {
  const { events } = parse(["event: x\n\nevent: y\nid: 1\n\ndata: d\n\n"]);
  assert.deepEqual(events, [{ type: "message", data: "d", id: "1" }]);
});

test("field without colon, value without space, colon in value, id with NUL ignored", () => {
  const { events } = parse(["data:a:b\nid: 5\nid: 6\0x\ndata\n\n"]);
  assert.deepEqual(events, [{ type: "message", data: "a:b\n", id: "5" }]);
});

test("an unfinished event at the end of the stream is dropped", () => {
  const { events } = parse(["data: 1\n\ndata: 2\n"]);
  assert.deepEqual(events, [{ type: "message", data: "1", id: "" }]);
});

test("multi-byte UTF-8 split across network chunks decodes whole", () => {
  const bytes = new TextEncoder().encode("data: na\u00efve \u20ac\ud83d\ude00\n\n");
  const events = [];
  const p = new SseParser({ onEvent: (e) => events.push(e) });
  const d = new TextDecoder();
  for (const b of bytes) p.feed(d.decode(new Uint8Array([b]), { stream: true }));
  assert.deepEqual(events, [{ type: "message", data: "na\u00efve \u20ac\ud83d\ude00", id: "" }]);
});
