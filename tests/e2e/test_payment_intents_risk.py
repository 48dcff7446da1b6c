"""Payment intents with the risk module enabled (docs/auth.md, "Risk";
docs/risk.md, "Payment intents"): the engine decides before any money is
held.  block refuses the intent with the explanation and moves nothing;
review holds the money but the payer cannot confirm until an operator
approves (or declines: the hold is voided); challenge and allow need the
passkey, except allow below modules.risk.frictionless_below, which is
posted at once.  The ledger's own API shows whether money moved.
"""
import json
import os
import time

import pytest

from conftest import create_key, new_id
from webauthn_util import Authenticator, Node

LEDGER = 840
RULES = """\
list blocked_payees set
feature tx_1h = count by payer over 1h
rule blocked: payee in blocked_payees => block "payee is blocked"
rule large: amount >= 100000 => review score 10 "large payment"
rule medium: amount >= 5000 => challenge score 5
"""


class RiskNode(Node):
    def __init__(self, home, frictionless=None):
        super().__init__(home)
        risk = {"ruleset_file": "rules.txt"}
        if frictionless is not None:
            risk["frictionless_below"] = frictionless
        with open(os.path.join(home, "rules.txt"), "w") as f:
            f.write(RULES)
        with open(os.path.join(home, "node.json"), "w") as f:
            json.dump({"listen": "127.0.0.1:0",
                       "modules": {"ledger": {}, "risk": risk, "auth": {}}}, f)
        self.key = create_key(home, "ops2", "auth:read,auth:write,ledger:read,ledger:write,"
                                            "risk:admin,risk:decide")


@pytest.fixture
def setup(tmp_dir):
    n = RiskNode(os.path.join(tmp_dir, "home"), frictionless=1000).start()
    user = n.user()
    auth = Authenticator()
    assert n.register(user, auth).status_code == 200
    payer, payee = new_id(), new_id()
    r = n.call("POST", "/v1/accounts", [{"id": str(i), "ledger": LEDGER, "code": 1, "flags": []}
                                        for i in (payer, payee)])
    assert r.status_code == 200, r.text
    yield n, user, auth, payer, payee
    if n.proc.poll() is None:
        n.stop()


def intent(n, user, payer, payee, amount):
    return n.call("POST", "/v1/payment-intents", {
        "user_id": user, "debit_account_id": str(payer), "credit_account_id": str(payee),
        "amount": str(amount), "ledger": LEDGER, "currency": "USD", "payee_name": "Shop",
        "order_id": "o-%d" % new_id()})


def account(n, i):
    return n.call("GET", "/v1/accounts/%d" % i).json()


def confirm(n, auth, intent_id):
    pk = n.call("POST", "/v1/payment-intents/%s/challenge" % intent_id, {})
    if pk.status_code != 200:
        return pk
    return n.call("POST", "/v1/payment-intents/%s/confirm" % intent_id,
                  {"credential": auth.get(pk.json()["publicKey"], n.origin)})


def test_block_moves_nothing(setup):
    n, user, auth, payer, payee = setup
    r = n.call("POST", "/v1/risk/lists/blocked_payees", {"add": [str(payee)]})
    assert r.status_code == 200, r.text
    r = intent(n, user, payer, payee, 50)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "risk_blocked"
    assert err["risk"]["decision"] == "block"
    assert err["risk"]["fired"][0]["reason"] == "payee is blocked"
    a = account(n, payer)
    assert a["debits_pending"] == "0" and a["debits_posted"] == "0"


def test_review_waits_for_an_operator(setup):
    n, user, auth, payer, payee = setup
    r = intent(n, user, payer, payee, 200000)
    assert r.status_code == 200, r.text
    it = r.json()
    assert it["status"] == "requires_review" and it["risk"]["decision"] == "review"
    assert account(n, payer)["debits_pending"] == "200000"
    r = confirm(n, auth, it["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "payment_intent_in_review"
    r = n.call("POST", "/v1/payment-intents/%s/approve" % it["id"], {"note": "called the payer"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "requires_confirmation"
    assert r.json()["review"]["outcome"] == "approved"
    assert r.json()["review"]["note"] == "called the payer"
    r = n.call("POST", "/v1/payment-intents/%s/approve" % it["id"], {})
    assert r.status_code == 409
    r = confirm(n, auth, it["id"])
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    assert account(n, payer)["debits_posted"] == "200000"


def test_decline_voids_the_hold(setup):
    n, user, auth, payer, payee = setup
    it = intent(n, user, payer, payee, 300000).json()
    assert it["status"] == "requires_review"
    r = n.call("POST", "/v1/payment-intents/%s/decline" % it["id"], {})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "canceled" and r.json()["review"]["outcome"] == "declined"
    a = account(n, payer)
    assert a["debits_pending"] == "0" and a["debits_posted"] == "0"


def test_challenge_and_allow(setup):
    n, user, auth, payer, payee = setup
    it = intent(n, user, payer, payee, 6000).json()
    assert it["status"] == "requires_confirmation" and it["risk"]["decision"] == "challenge"
    assert confirm(n, auth, it["id"]).json()["status"] == "succeeded"
    it = intent(n, user, payer, payee, 2000).json()  # allow, above the frictionless bound
    assert it["status"] == "requires_confirmation" and it["risk"]["decision"] == "allow"
    assert it["risk"]["features"]["tx_1h"] == 2
    it = intent(n, user, payer, payee, 999).json()  # allow, below it: no passkey
    assert it["status"] == "succeeded" and it["frictionless"] is True
    assert account(n, payee)["credits_posted"] == str(6000 + 999)


def test_review_routes_need_risk_admin(setup):
    n, user, auth, payer, payee = setup
    it = intent(n, user, payer, payee, 200000).json()
    weak = create_key(n.home, "writer", "auth:read,auth:write")
    deadline = time.time() + 3  # a new key applies within a second, without a restart
    while True:
        r = n.call("POST", "/v1/payment-intents/%s/approve" % it["id"], {}, key=weak)
        if r.status_code != 401 or time.time() > deadline:
            break
        time.sleep(0.05)
    assert r.status_code == 403
    r = n.call("POST", "/v1/payment-intents/%s/cancel" % it["id"], {}, key=weak)
    assert r.status_code == 200 and r.json()["status"] == "canceled"
