"""The registry and receivable apps end to end (docs/apps.md) on a real
4-validator network: `quipu chain init` writes the registrar key genesis
names; the registrar registers a core enterprise, two suppliers, a bank and
a clearing house; the bank grants the core a credit line; the core issues a
voucher, the tier-1 supplier transfers part of it to tier 2, tier 2
finances part of that at the bank, which accepts (a finance settlement
record); settling before maturity fails not_mature by the blocks' own
clock, a tree already mature settles (a maturity record) and the clearing
house confirms it; every node answers the same voucher tree.
"""
import json
import os
import shutil
import time

import pytest
import requests

from conftest import RUNNER, quipu
from test_chain import started_network, keygen, send

pytestmark = pytest.mark.skipif(
    RUNNER != "node", reason="starts its own chain network: runs once, in the node pass")

PARTIES = [("core", "core"), ("tier1", "supplier"), ("tier2", "supplier"), ("bank", "funder"),
           ("clearing", "clearing")]


@pytest.fixture(scope="module")
def rnet(binary):
    n = started_network("quipu-e2e-receivable-")
    n.keys, n.pubs = {}, {}
    for name, _ in PARTIES:
        n.keys[name] = os.path.join(n.root, name + ".key")
        n.pubs[name] = keygen(n.keys[name])
    n.keys["registrar"] = os.path.join(n.dir, "registrar.key")
    yield n
    n.stop_all()
    shutil.rmtree(n.root, ignore_errors=True)


def call(net, who, app, method, args, node=0):
    """A transaction of `who` (a party's name) with --wait; the receipt."""
    r = send(net, node, net.keys[who], args, "--wait", app=app, method=method)
    assert r.stdout, r.stderr
    receipt = json.loads(r.stdout)
    assert r.returncode == (0 if receipt["status"] == "ok" else 1), r.stdout + r.stderr
    return receipt


def ok(net, who, app, method, args, node=0):
    r = call(net, who, app, method, args, node)
    assert r["status"] == "ok", r
    return r


def ask(net, app, method, args, node=0):
    q = quipu("chain", "query", "--node", net.url(node), "--app", app, "--method", method,
              "--args", json.dumps(args), check=False)
    assert q.returncode == 0, q.stdout + q.stderr
    return json.loads(q.stdout)


def test_receivable_story(rnet):
    net = rnet
    pub = net.pubs
    with open(os.path.join(net.home(0), "genesis.json")) as f:
        genesis = json.load(f)
    registrar = genesis["registrar"]
    assert len(registrar) == 64
    assert oct(os.stat(net.keys["registrar"]).st_mode & 0o777) == "0o600"

    # Only the registrar registers.
    r = call(net, "core", "registry", "register",
             {"key": pub["core"], "name": "Core", "role": "core"})
    assert r["code"] == "not_registrar", r
    for name, role in PARTIES:
        ok(net, "registrar", "registry", "register", {"key": pub[name], "name": name, "role": role})
    r = call(net, "registrar", "registry", "register",
             {"key": pub["core"], "name": "again", "role": "core"})
    assert r["code"] == "already_registered", r
    cores = ask(net, "registry", "participants", {"role": "core"}, node=1)["result"]
    assert [p["key"] for p in cores["participants"]] == [pub["core"]]

    r = ok(net, "bank", "registry", "grant_credit",
           {"core": pub["core"], "amount": "1000000", "ledger": 1, "expiry": 4000000000})
    assert r["result"]["line"] == "c1"
    now = int(time.time())
    r = call(net, "core", "receivable", "issue",
             {"to": pub["tier1"], "amount": "1000001", "ledger": 1, "maturity": now + 3600,
              "reference": "INV-1"})
    assert r["code"] == "credit_line_exceeded", r
    r = ok(net, "core", "receivable", "issue",
           {"to": pub["tier1"], "amount": "100000", "ledger": 1, "maturity": now + 3600,
            "reference": "INV-1"})
    assert r["result"]["voucher"] == "v1"
    assert r["events"][0]["type"] == "voucher_issued"

    r = ok(net, "tier1", "receivable", "transfer",
           {"voucher": "v1", "to": pub["tier2"], "amount": "30000"}, node=1)
    assert r["result"] == {"to_voucher": "v2", "rest_voucher": "v3"}
    r = call(net, "tier1", "receivable", "transfer",
             {"voucher": "v2", "to": pub["tier1"], "amount": "1"})
    assert r["code"] == "not_holder", r

    r = ok(net, "tier2", "receivable", "finance",
           {"voucher": "v2", "funder": pub["bank"], "amount": "10000", "discount_bps": 150})
    assert r["result"]["voucher"] == "v4" and r["result"]["price"] == "9850"
    r = call(net, "tier1", "receivable", "accept_finance", {"voucher": "v4"})
    assert r["code"] == "not_funder", r
    r = ok(net, "bank", "receivable", "accept_finance", {"voucher": "v4"}, node=2)
    ev = r["events"][0]
    assert ev["type"] == "settlement_requested" and ev["settlement"] == "fin-v4"
    assert ev["kind"] == "finance" and ev["status"] == "pending"
    assert ev["payments"] == [{"index": 0, "from": pub["bank"], "to": pub["tier2"],
                               "amount": "9850", "voucher": "v4"}]
    r = call(net, "bank", "receivable", "accept_finance", {"voucher": "v4"})
    assert r["code"] == "already_financed", r

    # Maturity is an hour away by the blocks' clock.
    r = call(net, "tier1", "receivable", "settle", {"voucher": "v3"})
    assert r["code"] == "not_mature", r

    # The finance is paid: only the clearing house says so.
    r = call(net, "tier2", "receivable", "confirm_settlement",
             {"settlement": "fin-v4", "transfers": ["77"]})
    assert r["code"] == "not_clearing", r
    r = ok(net, "clearing", "receivable", "confirm_settlement",
           {"settlement": "fin-v4", "transfers": ["77"]})
    assert r["events"][0]["type"] == "settlement_confirmed"

    # A second tree, mature already: settle, then confirm.
    r = ok(net, "core", "receivable", "issue",
           {"to": pub["tier2"], "amount": "500", "ledger": 1, "maturity": now - 60,
            "reference": "INV-2"})
    v = r["result"]["voucher"]
    r = ok(net, "tier2", "receivable", "settle", {"voucher": v}, node=3)
    sid = r["result"]["settlement"]
    assert sid == "mat-%s-1" % v
    assert r["events"][0]["payments"] == [{"index": 0, "from": pub["core"], "to": pub["tier2"],
                                           "amount": "500", "voucher": v}]
    r = call(net, "tier2", "receivable", "settle", {"voucher": v})
    assert r["code"] == "settlement_pending", r
    pending = ask(net, "receivable", "settlements", {"status": "pending"})["result"]
    assert [s["settlement"] for s in pending["settlements"]] == [sid]
    ok(net, "clearing", "receivable", "confirm_settlement", {"settlement": sid,
                                                             "transfers": ["78"]})
    rec = ask(net, "receivable", "settlement", {"id": sid}, node=2)["result"]
    assert rec["status"] == "confirmed" and rec["transfers"] == ["78"]
    r = call(net, "clearing", "receivable", "confirm_settlement",
             {"settlement": sid, "transfers": ["78"]})
    assert r["code"] == "settlement_not_pending", r

    # The tree of v1, the same on every node once they reach the height.
    answers = []
    for node in range(4):
        deadline = time.time() + 30
        while True:
            a = ask(net, "receivable", "voucher", {"id": "v1"}, node=node)
            if a["height"] >= r["height"] or time.time() > deadline:
                break
            time.sleep(0.2)
        answers.append(a["result"])
    assert all(a == answers[0] for a in answers)
    tree = answers[0]["tree"]
    assert tree["voucher"] == "v1" and tree["state"] == "split"
    v2, v3 = tree["children"]
    assert (v2["voucher"], v2["holder"], v2["amount"]) == ("v2", pub["tier2"], "30000")
    assert (v3["voucher"], v3["holder"], v3["state"]) == ("v3", pub["tier1"], "active")
    v4, v5 = v2["children"]
    assert (v4["voucher"], v4["holder"], v4["state"]) == ("v4", pub["bank"], "financed")
    assert (v5["voucher"], v5["amount"], v5["state"]) == ("v5", "20000", "active")
    x = ask(net, "receivable", "exposure", {"core": pub["core"]})["result"]
    assert x["ledgers"][0]["outstanding"] == "100000"
    h = ask(net, "receivable", "history", {"voucher": "v4"})["result"]
    assert [e["type"] for e in h["events"]] == ["created", "finance_offered", "finance_accepted",
                                                "finance_confirmed"]

    # A query with "proof": true answers the same result with the state proof of the record
    # it rests on, which `quipu chain verify-proof` checks offline; altered, it fails.
    body = {"app": "receivable", "method": "voucher", "args": {"id": "v4"}, "proof": True}
    deadline = time.time() + 20
    while True:
        resp = requests.post(net.url(1) + "/v1/chain/query", json=body, timeout=10)
        if resp.status_code != 503 or time.time() > deadline:
            break
        time.sleep(0.3)
    assert resp.status_code == 200, resp.text
    a = resp.json()
    assert a["result"]["voucher"]["amount"] == "10000" and a["proof"]["height"] == a["height"]
    assert a["proof"]["app"] == "receivable" and a["proof"]["value"] is not None
    path = os.path.join(net.root, "voucher-proof.json")
    with open(path, "w") as f:
        json.dump(a, f)
    genesis = os.path.join(net.dir, "node0", "genesis.json")
    v = quipu("chain", "verify-proof", "--genesis", genesis, path, check=False)
    assert v.returncode == 0, v.stdout + v.stderr
    value = a["proof"]["value"]
    a["proof"]["value"] = value[:-1] + ("0" if value[-1] != "0" else "1")
    with open(path, "w") as f:
        json.dump(a, f)
    assert quipu("chain", "verify-proof", "--genesis", genesis, path, check=False).returncode == 1
    for bad in ({**body, "proof": "yes"},
                {**body, "method": "exposure", "args": {"core": pub["core"]}}):
        resp = requests.post(net.url(1) + "/v1/chain/query", json=bad, timeout=10)
        assert resp.status_code == 400, resp.text
    assert requests.post(net.url(1) + "/v1/chain/query", json={**body, "proof": False},
                         timeout=10).json()["result"]["voucher"]["amount"] == "10000"
