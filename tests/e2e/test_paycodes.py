"""Paying by payment code (docs/payments.md, "Paying by payment code")
against the real binary: `quipu node` with ledger, risk, auth and payments
(collect_without_confirmation_max 1000).  A device is enrolled for a user
whose money is in an account; its code comes from `quipu paycode` (the
reference implementation) and from GET /v1/devices/{id}/code, equal.  A
small collect pays the order at once with one ledger transfer (a retry with
the same Idempotency-Key moves nothing more); a large one waits in
requires_confirmation until the user confirms the payment intent with the
software authenticator of webauthn_util.py.  A code used twice, an expired
code (--time), a revoked device's and a risk block are refused and change
nothing.
"""
import json
import os
import re
import subprocess
import time

import pytest

from conftest import QUIPU, create_key, new_id
from webauthn_util import Authenticator, Node

LEDGER = 840
LIMIT = 1000
RULES = """\
list blocked_payees set
rule blocked: payee in blocked_payees => block "payee is blocked"
rule watched: amount = 444 or amount = 445 => review "a watched amount"
"""


class CodeNode(Node):
    def __init__(self, home):
        super().__init__(home)
        with open(os.path.join(home, "rules.txt"), "w") as f:
            f.write(RULES)
        with open(os.path.join(home, "node.json"), "w") as f:
            json.dump({"listen": "127.0.0.1:0", "modules": {
                "ledger": {}, "risk": {"ruleset_file": "rules.txt"}, "auth": {},
                "payments": {"collect_without_confirmation_max": LIMIT}}}, f)
        self.key = create_key(home, "ops-admin", "admin")

    def call(self, method, path, body=None, key=None, idem=None):
        import requests
        h = {"Authorization": "Bearer " + (key or self.key)}
        if idem is not None:
            h["Idempotency-Key"] = idem
        return requests.request(method, "http://127.0.0.1:%d%s" % (self.port, path), json=body,
                                headers=h, timeout=30)


class World:
    """A merchant (settlement account), a user with a passkey and a funded
    account, and the user's enrolled device."""

    def __init__(self, node):
        self.node = node
        self.settlement, self.payer, self.bank = new_id(), new_id(), new_id()
        r = node.call("POST", "/v1/accounts", [
            {"id": str(self.settlement), "ledger": LEDGER, "code": 1, "flags": []},
            {"id": str(self.payer), "ledger": LEDGER, "code": 1,
             "flags": ["debits_must_not_exceed_credits"]},
            {"id": str(self.bank), "ledger": LEDGER, "code": 1, "flags": []}])
        assert [x["result"] for x in r.json()["results"]] == ["ok"] * 3, r.text
        r = node.call("POST", "/v1/transfers", [{
            "id": str(new_id()), "debit_account_id": str(self.bank),
            "credit_account_id": str(self.payer), "amount": "10000", "ledger": LEDGER,
            "code": 1, "flags": []}])
        assert r.json()["results"][0]["result"] == "ok", r.text
        r = node.call("POST", "/v1/merchants", {
            "name": "Tea House", "settlement_account_id": str(self.settlement),
            "ledger": LEDGER, "currency": "USD"})
        assert r.status_code == 200, r.text
        self.merchant = r.json()
        self.user = node.user("bob%d" % new_id())
        self.auth = Authenticator()
        assert node.register(self.user, self.auth).status_code == 200
        r = node.call("POST", "/v1/devices", {"user_id": self.user,
                                              "account_id": str(self.payer),
                                              "ledger": LEDGER, "name": "Bob's phone"})
        assert r.status_code == 200, r.text
        self.device = r.json()

    def order(self, amount):
        r = self.node.call("POST", "/v1/orders", {
            "merchant_id": self.merchant["id"], "amount": str(amount), "ledger": LEDGER,
            "currency": "USD"})
        assert r.status_code == 200, r.text
        return r.json()

    def code(self, when=None):
        args = [QUIPU, "paycode", "--secret", self.device["secret"], "--device",
                str(self.device["number"])] + (["--time", str(when)] if when else [])
        out = subprocess.run(args, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def collect(self, order, code, idem=None):
        return self.node.call("POST", "/v1/orders/%s/collect" % order["id"],
                              {"payment_code": code}, idem=idem)

    def balance(self, account):
        a = self.node.call("GET", "/v1/accounts/%d" % account).json()
        return int(a["credits_posted"]) - int(a["debits_posted"])


@pytest.fixture
def world(tmp_dir):
    n = CodeNode(os.path.join(tmp_dir, "home")).start()
    yield World(n)
    if n.proc.poll() is None:
        n.stop()


def paid_events(node):
    m = re.search(r'quipu_payments_changes_total\{type="order.paid"\} (\d+)',
                  node.call("GET", "/metrics").text)
    return int(m.group(1))


def fresh_code(w):
    """A code from the CLI equal to the node's, not at a step's edge."""
    while int(time.time()) % 30 >= 28:
        time.sleep(0.5)
    cli = w.code()
    r = w.node.call("GET", "/v1/devices/%s/code" % w.device["id"])
    assert r.status_code == 200, r.text
    assert r.json()["payment_code"] == cli
    return cli


def test_enroll_and_code(world):
    w = world
    d = w.device
    assert len(d["secret"]) == 64 and d["status"] == "active" and 0 <= d["number"] <= 999999
    r = w.node.call("GET", "/v1/devices/" + d["id"])
    assert r.status_code == 200 and "secret" not in r.json(), r.text
    code = fresh_code(w)
    assert len(code) == 18 and code.startswith("28%06d" % d["number"])
    bad = w.node.call("POST", "/v1/devices", {"user_id": w.user, "account_id": "1",
                                              "ledger": LEDGER})
    assert bad.status_code == 400 and bad.json()["error"]["path"] == "account_id", bad.text
    paths = w.node.call("GET", "/v1/openapi.json").json()["paths"]
    for path, method in [("/v1/devices", "post"), ("/v1/devices/{id}", "get"),
                         ("/v1/devices/{id}", "delete"), ("/v1/devices/{id}/code", "get"),
                         ("/v1/orders/{id}/collect", "post")]:
        assert method in paths[path], path


def test_small_collect_pays_at_once_once(world):
    w = world
    o = w.order(700)
    code = fresh_code(w)
    r = w.collect(o, code, idem="k1")
    assert r.status_code == 200, r.text
    paid = r.json()
    assert paid["status"] == "paid" and paid["paid_by"] == "payment_code"
    assert paid["payer_account_id"] == str(w.payer)
    again = w.collect(o, code, idem="k1")  # a retry: the same answer, no second transfer
    assert again.status_code == 200 and again.json()["post_transfer_id"] == paid["post_transfer_id"]
    assert w.balance(w.payer) == 10000 - 700 and w.balance(w.settlement) == 700
    assert paid_events(w.node) == 1  # one order.paid event, not one per request
    assert w.node.call("GET", "/v1/orders/" + o["id"]).json()["status"] == "paid"
    # The code is spent: on another order it is refused and nothing moves.
    o2 = w.order(100)
    r = w.collect(o2, code)
    assert r.status_code == 409 and r.json()["error"]["code"] == "payment_code_used", r.text
    assert w.balance(w.payer) == 10000 - 700
    assert w.node.call("GET", "/v1/orders/" + o2["id"]).json()["status"] == "open"


def test_large_collect_needs_confirmation(world):
    w = world
    o = w.order(5000)
    r = w.collect(o, fresh_code(w))
    assert r.status_code == 200, r.text
    waiting = r.json()
    assert waiting["status"] == "requires_confirmation"
    intent = waiting["payment_intent_id"]
    assert w.balance(w.settlement) == 0
    pk = w.node.call("POST", "/v1/payment-intents/%s/challenge" % intent, {})
    assert pk.status_code == 200, pk.text
    r = w.node.call("POST", "/v1/payment-intents/%s/confirm" % intent,
                    {"credential": w.auth.get(pk.json()["publicKey"], w.node.origin)})
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    got = w.node.call("GET", "/v1/orders/" + o["id"]).json()
    assert got["status"] == "paid" and got["payment_intent_id"] == intent, got
    assert w.balance(w.settlement) == 5000 and w.balance(w.payer) == 5000


def test_a_declined_collect_opens_the_order_again(world):
    """The customer cancels the confirmation of a large collect: the order is
    open again at once (not left waiting for its expiry), and the shop
    collects another code that the customer confirms."""
    w = world
    o = w.order(5000)
    r = w.collect(o, fresh_code(w))
    assert r.status_code == 200 and r.json()["status"] == "requires_confirmation", r.text
    first = r.json()["payment_intent_id"]
    r = w.node.call("POST", "/v1/payment-intents/%s/cancel" % first, {})
    assert r.status_code == 200 and r.json()["status"] == "canceled", r.text
    got = w.node.call("GET", "/v1/orders/" + o["id"]).json()
    assert got["status"] == "open" and got["payment_intent_id"] is None, got
    assert "reopened_at" in got and "device_id" not in got, got
    assert w.node.call("GET", "/v1/accounts/%d" % w.payer).json()["debits_pending"] == "0"
    # Another device's code (the first device's code of this step is spent).
    r = w.node.call("POST", "/v1/devices", {"user_id": w.user, "account_id": str(w.payer),
                                            "ledger": LEDGER, "name": "Bob's watch"})
    assert r.status_code == 200, r.text
    w.device = r.json()
    r = w.collect(o, fresh_code(w))
    assert r.status_code == 200 and r.json()["status"] == "requires_confirmation", r.text
    second = r.json()["payment_intent_id"]
    assert second != first
    pk = w.node.call("POST", "/v1/payment-intents/%s/challenge" % second, {})
    r = w.node.call("POST", "/v1/payment-intents/%s/confirm" % second,
                    {"credential": w.auth.get(pk.json()["publicKey"], w.node.origin)})
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    got = w.node.call("GET", "/v1/orders/" + o["id"]).json()
    assert got["status"] == "paid" and got["payment_intent_id"] == second, got
    assert w.balance(w.settlement) == 5000 and paid_events(w.node) == 1


def test_review_waits_for_an_operator_before_the_passkey(world):
    """A collect the engine sends to review is not paid at once even below the
    limit, and its intent cannot be confirmed with the passkey until an
    operator approves it; a declined one releases the hold."""
    w = world
    o = w.order(444)  # below the limit: an allow would pay at once
    r = w.collect(o, fresh_code(w))
    assert r.status_code == 200, r.text
    waiting = r.json()
    assert waiting["status"] == "requires_confirmation" and waiting["risk"]["decision"] == "review"
    intent = waiting["payment_intent_id"]
    got = w.node.call("GET", "/v1/payment-intents/" + intent).json()
    assert got["status"] == "requires_review", got
    assert got["risk"]["decision"] == "review" and got["collect"] is True, got
    held = w.node.call("GET", "/v1/accounts/%d" % w.payer).json()
    assert held["debits_pending"] == "444", held  # held, not yet paid
    r = w.node.call("POST", "/v1/payment-intents/%s/challenge" % intent, {})
    assert r.status_code == 409 and r.json()["error"]["code"] == "payment_intent_in_review", r.text
    r = w.node.call("POST", "/v1/payment-intents/%s/approve" % intent, {"note": "known shop"})
    assert r.status_code == 200 and r.json()["status"] == "requires_confirmation", r.text
    pk = w.node.call("POST", "/v1/payment-intents/%s/challenge" % intent, {})
    assert pk.status_code == 200, pk.text
    r = w.node.call("POST", "/v1/payment-intents/%s/confirm" % intent,
                    {"credential": w.auth.get(pk.json()["publicKey"], w.node.origin)})
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    assert w.node.call("GET", "/v1/orders/" + o["id"]).json()["status"] == "paid"
    assert w.balance(w.settlement) == 444
    # Declined: the hold is voided, the money is the payer's again.  (A
    # second device: the first one's code of this time step is spent.)
    r = w.node.call("POST", "/v1/devices", {"user_id": w.user, "account_id": str(w.payer),
                                            "ledger": LEDGER, "name": "Bob's watch"})
    assert r.status_code == 200, r.text
    w.device = r.json()
    o2 = w.order(445)
    r = w.collect(o2, fresh_code(w))
    assert r.status_code == 200, r.text
    intent = r.json()["payment_intent_id"]
    r = w.node.call("POST", "/v1/payment-intents/%s/decline" % intent, {})
    assert r.status_code == 200 and r.json()["status"] == "canceled", r.text
    assert w.balance(w.payer) == 10000 - 444 and w.balance(w.settlement) == 444
    assert w.node.call("GET", "/v1/accounts/%d" % w.payer).json()["debits_pending"] == "0"
    assert w.node.call("GET", "/v1/orders/" + o2["id"]).json()["status"] != "paid"


def test_refusals_change_nothing(world):
    w = world
    o = w.order(300)
    expired = w.code(int(time.time()) - 90)
    r = w.collect(o, expired)
    assert r.status_code == 422 and r.json()["error"]["code"] == "payment_code_expired", r.text
    r = w.collect(o, "28" + "%06d" % w.device["number"] + "0000000000")
    assert r.status_code == 422 and r.json()["error"]["code"] == "payment_code_invalid", r.text
    r = w.collect(o, "12345")
    assert r.status_code == 400 and r.json()["error"]["path"] == "payment_code", r.text
    poor = w.order(20000)  # above the limit: the hold itself fails for lack of funds
    r = w.collect(poor, fresh_code(w))
    assert r.status_code == 422 and r.json()["error"]["code"] == "exceeds_credits", r.text
    code = fresh_code(w)
    r = w.node.call("POST", "/v1/risk/lists/blocked_payees", {"add": [str(w.settlement)]})
    assert r.status_code == 200, r.text
    r = w.collect(o, code)
    assert r.status_code == 422 and r.json()["error"]["code"] == "risk_blocked", r.text
    assert r.json()["error"]["risk"]["decision"] == "block"
    w.node.call("POST", "/v1/risk/lists/blocked_payees", {"remove": [str(w.settlement)]})
    assert w.node.call("DELETE", "/v1/devices/" + w.device["id"]).status_code == 200
    r = w.collect(o, code)
    assert r.status_code == 422 and r.json()["error"]["code"] == "payment_code_revoked", r.text
    assert w.node.call("GET", "/v1/devices/%s/code" % w.device["id"]).status_code == 409
    assert w.node.call("GET", "/v1/orders/" + o["id"]).json()["status"] == "open"
    assert w.balance(w.payer) == 10000 and w.balance(w.settlement) == 0


def test_collect_transfer_without_the_order_is_found(world):
    """A crash after the ledger transfer and before the order is stored paid:
    the transfer's id comes from the order id (docs/payments.md), so the
    node finds it and the order reads paid (money that arrived is never
    hidden)."""
    import hashlib
    w = world
    o = w.order(250)
    tid = int.from_bytes(hashlib.sha256(b"quipu-collect-transfer-v1" + bytes.fromhex(o["id"]))
                         .digest()[:16], "big")
    r = w.node.call("POST", "/v1/transfers", [{
        "id": str(tid), "debit_account_id": str(w.payer),
        "credit_account_id": str(w.settlement), "amount": "250", "ledger": LEDGER,
        "code": 3, "flags": []}])
    assert r.json()["results"][0]["result"] == "ok", r.text
    got = w.node.call("GET", "/v1/orders/" + o["id"]).json()
    assert got["status"] == "paid" and got["paid_by"] == "payment_code", got
    assert got["post_transfer_id"] == str(tid) and got["payer_account_id"] == str(w.payer)
    # A collect now is refused (the order is paid) and moves nothing more.
    r = w.collect(o, fresh_code(w))
    assert r.status_code == 409 and r.json()["error"]["status"] == "paid", r.text
    assert w.balance(w.payer) == 10000 - 250


def test_merchant_key_collects_its_own_orders_only(world):
    w = world
    r = w.node.call("POST", "/v1/merchants/%s/keys" % w.merchant["id"], {})
    assert r.status_code == 200, r.text
    mkey = r.json()["key"]
    deadline = time.time() + 5  # the key file is reloaded, not read per request
    while w.node.call("GET", "/v1/orders", key=mkey).status_code == 401 and \
            time.time() < deadline:
        time.sleep(0.05)
    other = w.node.call("POST", "/v1/merchants", {
        "name": "Other", "settlement_account_id": str(w.settlement), "ledger": LEDGER,
        "currency": "USD"}).json()
    theirs = w.node.call("POST", "/v1/orders", {"merchant_id": other["id"], "amount": "100",
                                                "ledger": LEDGER, "currency": "USD"}).json()
    code = fresh_code(w)
    r = w.node.call("POST", "/v1/orders/%s/collect" % theirs["id"], {"payment_code": code},
                    key=mkey)
    assert r.status_code == 404, r.text
    mine = w.order(100)
    r = w.node.call("POST", "/v1/orders/%s/collect" % mine["id"], {"payment_code": code},
                    key=mkey)
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text
    r = w.node.call("POST", "/v1/devices", {"user_id": w.user, "account_id": str(w.payer),
                                            "ledger": LEDGER}, key=mkey)
    assert r.status_code == 403, r.text
