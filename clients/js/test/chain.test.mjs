// chain.test.mjs - q.chain against a real one-validator chain node: status,
// blocks, queries (gov validators; kv get of a missing key as QuipuError),
// an unknown transaction, a malformed submission refused naming `tx`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Quipu, QuipuError } from "../quipu.mjs";
import { Node } from "../test-support/node.mjs";

let node;
let q;
before(async () => {
  node = await Node.startChain();
  q = new Quipu({ baseUrl: node.url });
});
after(() => node.stop());

test("status, a block, queries, unknown tx, bad submission", async () => {
  const s = await q.chain.status();
  assert.equal(s.chain_id, "quipu-local");
  assert.equal(s.validators.length, 1);
  assert.match(s.genesis_hash, /^[0-9a-f]{64}$/);
  const above = await q.chain.block(s.height + 1000).catch((e) => e);
  assert.ok(above instanceof QuipuError);
  assert.equal(above.status, 404);
  assert.equal(above.path, "height");
  const v = await q.chain.query("gov", "validators", {});
  assert.equal(typeof v.height, "number");
  assert.ok(v.result);
  const missing = await q.chain.query("kv", "get", { key: "nope" }).catch((e) => e);
  assert.equal(missing.code, "not_found");
  const app = await q.chain.query("nope", "get", {}).catch((e) => e);
  assert.equal(app.code, "unknown_app");
  const tx = await q.chain.tx("00".repeat(32)).catch((e) => e);
  assert.equal(tx.status, 404);
  const bad = await q.chain.submit("zz").catch((e) => e);
  assert.equal(bad.status, 400);
  assert.equal(bad.path, "tx");
  const batch = await q.chain.submit(["zz"]).catch((e) => e);
  assert.equal(batch.status, 400);
  assert.equal(batch.path, "txs[0]");
});
