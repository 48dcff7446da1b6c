"""Settlement into the ledger end to end (docs/apps.md, "Settlement"): the
supply-chain demo on real processes; the settlement agent (`quipu settle`)
killed with SIGKILL at seeded random points while settlements are pending
and restarted, after which every holder has been paid exactly once (the
balances, the ledger's transfer count and each derived transfer id) and
the ledger's invariant holds; a core enterprise short of funds: the tree
goes overdue and nothing moves, then, funded, it is settled again and
paid; a funder short of funds: the finance is undone; two agents at once
pay once; bad maps and a participant missing from the map.

A 4-validator network (`quipu chain init`, which also writes the
registry's registrar.key) and a ledger (`quipu serve --insecure-no-auth`,
or the equivalent node) on loopback; transactions are signed by `quipu
chain send`.  Runs once, in the node pass, as the other chain tests.
QUIPU_SETTLE_SEED picks the kill points (default 13).
"""
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import QUIPU, RUNNER, Api, Server, quipu
from test_chain import keygen, send, started_network, wait_for

pytestmark = pytest.mark.skipif(
    RUNNER != "node", reason="starts its own chain network: runs once, in the node pass")

LEDGER = 1
CASH = 1  # the account the funding comes from (may go negative)
SEED = int(os.environ.get("QUIPU_SETTLE_SEED", "13"))
KILL_ROUNDS = 8
PARTIES = [("core", "core"), ("poor", "core"), ("s1", "supplier"), ("s2", "supplier"),
           ("s3", "supplier"), ("s4", "supplier"), ("bank", "funder"), ("clearing", "clearing"),
           ("pauper", "funder")]
FUNDING = {"core": 1000000, "bank": 1000000, "poor": 100}


def call(w, who, app, method, args, ok=True):
    """A transaction signed by party who; the receipt."""
    r = send(w.net, 0, w.keys[who], args, "--wait", app=app, method=method)
    assert r.stdout, r.stderr
    receipt = json.loads(r.stdout)
    if ok:
        assert receipt["status"] == "ok", receipt
    return receipt


def chain_query(w, method, args):
    q = quipu("chain", "query", "--node", w.net.url(0), "--app", "receivable", "--method",
              method, "--args", json.dumps(args))
    return json.loads(q.stdout)["result"]


def balance(w, who):
    a = w.api.account(w.account[who])
    return int(a["credits_posted"]) - int(a["debits_posted"])


def balances(w):
    return {p: balance(w, p) for p, _ in PARTIES}


def fund(w, who, amount):
    tid = w.next_id
    w.next_id += 1
    assert w.api.create_transfers([{"id": str(tid), "debit_account_id": str(CASH),
                                    "credit_account_id": str(w.account[who]),
                                    "amount": str(amount), "ledger": LEDGER, "code": 9}]) == ["ok"]


def agent_args(w, *extra):
    return [QUIPU, "settle", "--chain", w.net.url(0), "--ledger", w.ledger.url(""), "--key",
            w.keys["clearing"], "--accounts", w.map_path, *extra]


def run_agent_once(w):
    r = subprocess.run(agent_args(w, "--once"), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def transfer_id(genesis_hex, settlement, index):
    """The documented derivation, computed here independently."""
    msg = (b"quipu-settle-v1" + bytes.fromhex(genesis_hex) + settlement.encode() +
           index.to_bytes(4, "little"))
    return int.from_bytes(hashlib.sha256(msg).digest()[:16], "little")


@pytest.fixture(scope="module")
def world(binary):
    net = started_network("quipu-e2e-settle-")
    w = type("World", (), {})()
    w.net, w.root = net, net.root
    w.ledger = Server(os.path.join(net.root, "ledger"), "--insecure-no-auth").start()
    w.api = Api(w.ledger, None)
    w.keys, w.pub, w.account = {}, {}, {}
    registrar = os.path.join(net.dir, "registrar.key")
    for i, (name, role) in enumerate(PARTIES):
        w.keys[name] = os.path.join(net.root, name + ".key")
        w.pub[name] = keygen(w.keys[name])
        w.account[name] = 100 + i
        r = send(net, 0, registrar, {"key": w.pub[name], "name": name, "role": role}, "--wait",
                 app="registry", method="register")
        assert r.returncode == 0, r.stdout + r.stderr
    accounts = [{"id": str(CASH), "ledger": LEDGER, "code": 1}]
    accounts += [{"id": str(w.account[p]), "ledger": LEDGER, "code": 1,
                  "flags": ["debits_must_not_exceed_credits"]} for p, _ in PARTIES]
    assert set(w.api.create_accounts(accounts)) == {"ok"}
    w.next_id = 1
    for who, amount in FUNDING.items():
        fund(w, who, amount)
    w.map_path = os.path.join(net.root, "accounts.json")
    with open(w.map_path, "w") as f:
        json.dump({w.pub[p]: {str(LEDGER): str(w.account[p])} for p, _ in PARTIES}, f)
    for core in ("core", "poor"):
        call(w, "bank", "registry", "grant_credit", {"core": w.pub[core], "amount": "100000000",
                                                     "ledger": LEDGER,
                                                     "expiry": int(time.time()) + 3600})
    w.genesis = net.status(0)["genesis_hash"]
    yield w
    w.ledger.stop()
    net.stop_all()
    shutil.rmtree(net.root, ignore_errors=True)


def split_tree(w, core, amount, maturity, parts):
    """core issues amount to s1, who passes parts on: parts is a list of
    (from, to, amount) applied to the holder's current voucher.  Returns
    the root id and {holder: voucher id} of the leaves."""
    r = call(w, core, "receivable", "issue", {"to": w.pub["s1"], "amount": str(amount),
                                             "ledger": LEDGER, "maturity": maturity,
                                             "reference": "e2e"})
    root = r["result"]["voucher"]
    held = {"s1": root}
    for frm, to, part in parts:
        r = call(w, frm, "receivable", "transfer", {"voucher": held[frm], "to": w.pub[to],
                                                   "amount": str(part)})
        held[to] = r["result"]["to_voucher"]
        held[frm] = r["result"]["rest_voucher"]
    return root, held


def wait_mature(maturity):
    while time.time() < maturity + 1.5:
        time.sleep(0.2)


def test_demo_runs_and_pays_every_holder(tmp_dir):
    d = os.path.join(tmp_dir, "demo")
    r = subprocess.run([QUIPU, "demo", "supply-chain", "--dir", d], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    after = out[out.index("== Balances after settlement"):]
    rows = {m.group(1): (int(m.group(2)), int(m.group(3)), int(m.group(4)))
            for m in re.finditer(r"^  (Core Motors|Tier-1 Seats|Tier-2 Foam|Harbor Bank)"
                                 r"\s+\d+\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)$", after, re.M)}
    assert rows == {"Core Motors": (150000, 50000, -100000), "Tier-1 Seats": (0, 60000, 60000),
                    "Tier-2 Foam": (0, 39500, 39500), "Harbor Bank": (100000, 100500, 500)}, out
    assert "invariant_ok: true" in out and "\n  valid: transaction" in out, out
    # Everything was stopped: the ledger's journal checks offline, and the
    # saved proof checks against genesis with the real command.
    v = quipu("verify", "--data", os.path.join(d, "ledger"), check=False)
    assert v.returncode == 0, v.stdout + v.stderr
    p = quipu("chain", "verify-proof", "--genesis", os.path.join(d, "chain", "node0"),
              os.path.join(d, "proof.json"), check=False)
    assert p.returncode == 0 and "confirm_settlement" in p.stdout, p.stdout + p.stderr


def kill_loop(w, rng, state, before, expected, tag):
    """Starts the agent (following, with --state) and kills it with SIGKILL
    after a seeded random time, until nothing is pending or KILL_ROUNDS;
    after each kill nobody has been paid more than owed.  Returns the
    number of kills."""
    kills = 0
    for i in range(KILL_ROUNDS):
        path = os.path.join(w.root, "agent-%s%d.log" % (tag, i))
        with open(path, "w") as log:
            p = subprocess.Popen(agent_args(w, "--state", state), stdout=log,
                                 stderr=subprocess.STDOUT)
            time.sleep(rng.uniform(0.0, 2.0))
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
        with open(path) as f:
            text = f.read()
        paid = text.count(": paid ") + text.count(": already paid")
        confirmed = text.count("confirm_settlement ")
        w.found_paid += text.count(": already paid")
        w.kill_points.append("paid %d, confirmed %d" % (paid, confirmed))
        if paid > confirmed:
            w.mid_settlement += 1  # killed between the ledger and the chain
        now = balances(w)
        for who in expected:  # never more than owed, whatever the kill point
            paid = now[who] - before[who]
            assert (paid <= expected[who]) if expected[who] >= 0 else (paid >= expected[who]), \
                (who, paid, expected[who])
        if not chain_query(w, "settlements", {"status": "pending"})["settlements"]:
            break
    return kills


def test_agent_killed_at_random_points_pays_each_holder_once(world):
    w, rng = world, random.Random(SEED)
    w.kill_points, w.mid_settlement, w.found_paid = [], 0, 0
    before = balances(w)
    audit_before = int(w.api.audit()["transfers"])
    maturity = int(time.time()) + 10
    expected = {p: 0 for p, _ in PARTIES}
    roots = []
    for k in range(3):
        amount = 10000 * (k + 1)
        root, held = split_tree(w, "core", amount, maturity,
                                [("s1", "s2", 3000), ("s1", "s3", 2000), ("s2", "s4", 1000 + k)])
        roots.append(root)
        if k == 0:  # s3 sells its whole part to the bank at 1 %
            r = call(w, "s3", "receivable", "finance", {"voucher": held["s3"],
                                                       "funder": w.pub["bank"],
                                                       "amount": "2000", "discount_bps": 100})
            call(w, "bank", "receivable", "accept_finance", {"voucher": r["result"]["voucher"]})
            expected["s3"] += 1980
            expected["bank"] -= 1980
            held["bank"] = held.pop("s3")
        expected["core"] -= amount
        for holder, vid in held.items():
            expected[holder] += int(chain_query(w, "voucher", {"id": vid})["voucher"]["amount"])
    wait_mature(maturity)
    # Tree 0's finance must be paid before the tree can be settled
    # (settlement_pending): first the finance and trees 1 and 2, then tree 0.
    settlements = [call(w, "core", "receivable", "settle", {"voucher": root})["result"]
                   ["settlement"] for root in roots[1:]]
    pending = chain_query(w, "settlements", {"status": "pending"})["settlements"]
    assert len(pending) == 3, pending  # fin-… and two mat-…-1
    state = os.path.join(w.root, "settle.state")
    kills = kill_loop(w, rng, state, before, expected, "a")
    run_agent_once(w)
    settlements.append(call(w, "core", "receivable", "settle", {"voucher": roots[0]})
                       ["result"]["settlement"])
    kills += kill_loop(w, rng, state, before, expected, "b")
    run_agent_once(w)  # what the kills left, once more to the end
    run_agent_once(w)  # and again: nothing left to do, nothing paid twice

    after = balances(w)
    assert {p: after[p] - before[p] for p in after} == expected
    ids_all = settlements + [r["settlement"] for r in pending if r["kind"] == "finance"]
    records = [chain_query(w, "settlement", {"id": s}) for s in ids_all]
    assert len(records) == 4
    payments = 0
    for rec in records:
        assert rec["status"] == "confirmed", rec
        ids = [transfer_id(w.genesis, rec["settlement"], k) for k in range(len(rec["payments"]))]
        assert [int(t) for t in rec["transfers"]] == ids, rec
        for tid, pay in zip(ids, rec["payments"]):
            t = w.api.transfer(tid)
            assert int(t["amount"]) == int(pay["amount"]), t
        payments += len(ids)
    audit = w.api.audit()
    assert int(audit["transfers"]) == audit_before + payments  # no transfer twice
    assert audit["invariant_ok"] is True, audit
    for root in roots:
        tree = chain_query(w, "voucher", {"id": root})["tree"]
        stack = [tree]
        while stack:
            node = stack.pop()
            assert node["state"] in ("split", "settled"), node
            stack.extend(node["children"])
    assert w.mid_settlement >= 1, w.kill_points  # the point of the test
    print("agent killed %d times (seed %d), %d of them between paying and confirming; "
          "a restart found a payment already made %d times: %s"
          % (kills, SEED, w.mid_settlement, w.found_paid, "; ".join(w.kill_points)))


def test_short_of_funds_goes_overdue_then_settles_when_funded(world):
    w = world
    maturity = int(time.time()) + 6
    root, held = split_tree(w, "poor", 1000, maturity, [("s1", "s2", 400)])
    wait_mature(maturity)
    before = balances(w)
    first = call(w, "s2", "receivable", "settle", {"voucher": root})["result"]["settlement"]
    out = run_agent_once(w)
    assert "short of funds" in out and "report_shortfall %s: committed" % first in out, out
    assert chain_query(w, "settlement", {"id": first})["status"] == "short"
    for vid in held.values():
        assert chain_query(w, "voucher", {"id": vid})["voucher"]["state"] == "overdue"
    assert balances(w) == before  # nothing paid

    fund(w, "poor", 1000)
    again = call(w, "s1", "receivable", "settle", {"voucher": root})["result"]["settlement"]
    assert again != first and again.endswith("-2"), again
    out = run_agent_once(w)
    assert "confirm_settlement %s: committed" % again in out, out
    after = balances(w)
    assert after["poor"] - before["poor"] == 0  # +1000 funded, -1000 paid
    assert after["s1"] - before["s1"] == 600 and after["s2"] - before["s2"] == 400
    for vid in held.values():
        assert chain_query(w, "voucher", {"id": vid})["voucher"]["state"] == "settled"
    assert w.api.audit()["invariant_ok"] is True


def test_usage_and_bad_map_are_refused(world, tmp_dir):
    w = world
    r = subprocess.run([QUIPU, "settle", "--chain", w.net.url(0)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and "--accounts are required" in r.stderr, r.stderr
    bad = os.path.join(tmp_dir, "bad.json")
    for text, says in (('{"%s": {"1": "0"}}' % w.pub["s1"], "must be an account id"),
                       ('{"%s": {"01": "5"}}' % w.pub["s1"], "is not a ledger"),
                       ('{"S1": {"1": "5"}}', "lower-case hex"),
                       ('[1]', "JSON object"),
                       ('{"a": 1, "a": 2}', "duplicate")):
        with open(bad, "w") as f:
            f.write(text)
        r = subprocess.run([QUIPU, "settle", "--chain", w.net.url(0), "--ledger",
                            w.ledger.url(""), "--key", w.keys["clearing"], "--accounts", bad,
                            "--once"], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and says in r.stderr, (text, r.stderr)


def test_a_participant_missing_from_the_map_is_an_error_for_that_record_only(world, tmp_dir):
    w = world
    maturity = int(time.time()) + 5
    root, held = split_tree(w, "core", 500, maturity, [("s1", "s4", 200)])
    wait_mature(maturity)
    before = balances(w)
    sid = call(w, "core", "receivable", "settle", {"voucher": root})["result"]["settlement"]
    partial = os.path.join(tmp_dir, "partial.json")
    with open(partial, "w") as f:
        json.dump({w.pub[p]: {str(LEDGER): str(w.account[p])} for p, _ in PARTIES if p != "s4"},
                  f)
    r = subprocess.run([QUIPU, "settle", "--chain", w.net.url(0), "--ledger", w.ledger.url(""),
                        "--key", w.keys["clearing"], "--accounts", partial, "--once"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr  # --once: a record left pending
    assert sid in r.stderr and w.pub["s4"] in r.stderr and "not in it" in r.stderr, r.stderr
    assert balances(w) == before
    assert chain_query(w, "settlement", {"id": sid})["status"] == "pending"
    run_agent_once(w)  # with the whole map
    assert chain_query(w, "settlement", {"id": sid})["status"] == "confirmed"
    assert balance(w, "s4") - before["s4"] == 200


def test_a_funder_short_of_funds_undoes_the_finance(world):
    w = world
    root, held = split_tree(w, "core", 300, int(time.time()) + 3600, [("s1", "s2", 100)])
    r = call(w, "s2", "receivable", "finance", {"voucher": held["s2"], "funder": w.pub["pauper"],
                                               "amount": "100", "discount_bps": 50})
    offered = r["result"]["voucher"]
    sid = call(w, "pauper", "receivable", "accept_finance",
               {"voucher": offered})["result"]["settlement"]
    before = balances(w)
    out = run_agent_once(w)
    assert "%s: the payer is short of funds" % sid in out, out
    assert chain_query(w, "settlement", {"id": sid})["status"] == "short"
    v = chain_query(w, "voucher", {"id": offered})["voucher"]
    assert v["state"] == "active" and v["holder"] == w.pub["s2"], v  # back to the seller
    assert balances(w) == before


def test_two_agents_at_once_pay_once(world):
    w = world
    maturity = int(time.time()) + 5
    trees = [split_tree(w, "core", 700 + k, maturity, [("s1", "s3", 300), ("s3", "s4", 100)])
             for k in range(2)]
    wait_mature(maturity)
    before, transfers_before = balances(w), int(w.api.audit()["transfers"])
    sids = [call(w, "core", "receivable", "settle", {"voucher": root})["result"]["settlement"]
            for root, _ in trees]
    agents = [subprocess.Popen(agent_args(w, "--once"), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [a.communicate(timeout=120)[0] for a in agents]
    assert [a.returncode for a in agents] == [0, 0], outs
    for sid in sids:
        assert chain_query(w, "settlement", {"id": sid})["status"] == "confirmed"
    after = balances(w)
    assert after["core"] - before["core"] == -(700 + 701)
    assert after["s1"] - before["s1"] == 400 + 401
    assert after["s3"] - before["s3"] == 400 and after["s4"] - before["s4"] == 200
    assert int(w.api.audit()["transfers"]) == transfers_before + 6  # 3 payments per tree
