// ledger.test.mjs - q.ledger against a real node: accounts, transfers,
// reads, lookups, queries, history paging, balances, the audit, and the
// error envelope as QuipuError.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Quipu, QuipuError } from "../quipu.mjs";
import { Node, newId } from "../test-support/node.mjs";

let node;
let q;
before(async () => {
  node = await new Node().start();
  q = new Quipu({ baseUrl: node.url, apiKey: node.key });
});
after(() => node.stop());

const LEDGER = 7;

async function accounts(n, flags = []) {
  const ids = Array.from({ length: n }, newId);
  const r = await q.ledger.createAccounts(ids.map((id) => ({ id, ledger: LEDGER, code: 1,
    flags })));
  assert.deepEqual(r.results.map((x) => x.result), ids.map(() => "ok"));
  return ids;
}

async function transfer(debit, credit, amount, extra = {}) {
  const id = newId();
  const r = await q.ledger.createTransfers([{ id, debit_account_id: debit,
    credit_account_id: credit, amount, ledger: LEDGER, code: 1, ...extra }]);
  assert.equal(r.results[0].result, "ok", JSON.stringify(r));
  return id;
}

test("accounts and transfers: create, read, lookup, query, audit", async () => {
  const [a, b] = await accounts(2, ["history"]);
  const big = (2n ** 100n).toString(); // past 2^53: strings all the way
  const t = await transfer(a, b, big);
  const acc = await q.ledger.getAccount(b);
  assert.equal(acc.credits_posted, big);
  assert.deepEqual(acc.flags, ["history"]);
  const tr = await q.ledger.getTransfer(t);
  assert.equal(tr.amount, big);
  assert.equal(tr.debit_account_id, a);
  const looked = await q.ledger.lookupAccounts([a, "999", b]);
  assert.deepEqual(looked.accounts.map((x) => x.id), [a, b]);
  const lt = await q.ledger.lookupTransfers([t]);
  assert.equal(lt.transfers[0].id, t);
  const qa = await q.ledger.queryAccounts({ ledger: LEDGER, limit: 10 });
  assert.ok(qa.accounts.some((x) => x.id === a));
  const qt = await q.ledger.queryTransfers({ ledger: LEDGER, flags: ["reversed"], limit: 1 });
  assert.equal(qt.transfers[0].id, t);
  const bal = await q.ledger.accountBalances(b);
  assert.equal(bal.balances.at(-1).credits_posted, big);
  const audit = await q.ledger.audit();
  assert.equal(audit.invariant_ok, true);
  const l = audit.ledgers.find((x) => x.ledger === LEDGER);
  assert.equal(l.debits_posted, l.credits_posted);
});

test("history pages: accountTransfers' next, and allAccountTransfers across pages", async () => {
  const [a, b] = await accounts(2);
  const ids = [];
  for (let i = 1; i <= 5; i++) ids.push(await transfer(a, b, String(i)));
  const page = await q.ledger.accountTransfers(a, { limit: 2 });
  assert.equal(page.transfers.length, 2);
  assert.notEqual(page.next, null);
  const all = [];
  for await (const t of q.ledger.allAccountTransfers(a, { limit: 2 })) all.push(t.id);
  assert.deepEqual(all, ids);
  const rev = [];
  for await (const t of q.ledger.allAccountTransfers(a, { limit: 2, reversed: true })) {
    rev.push(t.id);
  }
  assert.deepEqual(rev, [...ids].reverse());
});

test("a refused event is a result, not an error; a bad request is a QuipuError", async () => {
  const [a] = await accounts(1);
  const r = await q.ledger.createTransfers([{ id: newId(), debit_account_id: a,
    credit_account_id: a, amount: "1", ledger: LEDGER, code: 1 }]);
  assert.equal(r.results[0].result, "accounts_must_be_different");

  const e = await q.ledger.createAccounts([{ id: newId(), ledger: LEDGER, code: 1 },
    { id: newId(), ledger: true, code: 1 }]).catch((x) => x);
  assert.ok(e instanceof QuipuError);
  assert.equal(e.status, 400);
  assert.equal(e.code, "invalid_type");
  assert.equal(e.path, "[1].ledger");
  assert.match(e.message, /boolean|integer/);
  assert.match(e.requestId, /^[A-Za-z0-9._-]{1,64}$/);
  assert.equal(e.body.error.code, "invalid_type");

  const nf = await q.ledger.getAccount("12345678901").catch((x) => x);
  assert.equal(nf.status, 404);
  assert.equal(nf.code, "not_found");

  const json = await q.request("POST", "/v1/accounts", { body: "[{", headers:
    { "Content-Type": "application/json" } }).catch((x) => x);
  assert.equal(json.code, "invalid_json");
  assert.equal(typeof json.line, "number");
  assert.equal(typeof json.column, "number");

  const anon = new Quipu({ baseUrl: node.url, apiKey: "qpk_0000000000000000_nope" });
  const u = await anon.ledger.audit().catch((x) => x);
  assert.equal(u.status, 401);
  assert.equal(u.code, "unauthorized");
});
