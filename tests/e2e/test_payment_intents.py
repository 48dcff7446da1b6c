"""Payment intents (docs/auth.md, "Payment intents") against the real binary:
a hold on the ledger (a pending transfer), a challenge that commits to the
payment, and a confirmation whose assertion must verify against that exact
payment before the hold is posted.  The software authenticator of
webauthn_util.py signs; the ledger's own API shows whether money moved.

Every refusal must leave the hold as it was: the payer's debits_posted stays
0 and debits_pending stays the amount.
"""
import hashlib
import os
import time

import pytest

from conftest import new_id, quipu
from webauthn_util import EDDSA, ES256, Authenticator, Node, b64u, unb64u

LEDGER = 840


@pytest.fixture
def pay(tmp_dir):
    n = Node(os.path.join(tmp_dir, "home")).start()
    yield Pay(n)
    if n.proc.poll() is None:
        n.stop()


class Pay:
    """A user with one registered passkey, a payer and a merchant account."""

    def __init__(self, node, alg=ES256):
        self.node = node
        self.user = node.user()
        self.auth = Authenticator(alg, "none")
        r = node.register(self.user, self.auth)
        assert r.status_code == 200, r.text
        self.payer, self.merchant = new_id(), new_id()
        r = node.call("POST", "/v1/accounts", [
            {"id": str(i), "ledger": LEDGER, "code": 1, "flags": []}
            for i in (self.payer, self.merchant)])
        assert [x["result"] for x in r.json()["results"]] == ["ok", "ok"], r.text

    def intent(self, amount=1234, **extra):
        body = {"user_id": self.user, "debit_account_id": str(self.payer),
                "credit_account_id": str(self.merchant), "amount": str(amount),
                "ledger": LEDGER, "currency": "USD", "payee_name": "Coffee Shop",
                "order_id": "order-%d" % new_id(), "expires_in_s": 600}
        body.update(extra)
        r = self.node.call("POST", "/v1/payment-intents", body)
        assert r.status_code == 200, r.text
        return r.json()

    def challenge(self, intent_id):
        r = self.node.call("POST", "/v1/payment-intents/%s/challenge" % intent_id, {})
        assert r.status_code == 200, r.text
        return r.json()

    def confirm(self, intent_id, credential):
        return self.node.call("POST", "/v1/payment-intents/%s/confirm" % intent_id,
                              {"credential": credential})

    def account(self, id_):
        return self.node.call("GET", "/v1/accounts/%d" % id_).json()

    def held(self, amount):
        a = self.account(self.payer)
        return a["debits_posted"] == "0" and a["debits_pending"] == str(amount)


def code(r):
    return r.json()["error"]["code"]


def settle_id(hold, kind):
    """The id of the transfer that posts (P) or voids (V) a hold (docs/auth.md)."""
    d = hashlib.sha256(b"quipu-intent-settle-v1" + kind + int(hold).to_bytes(16, "big")).digest()
    return str(int.from_bytes(d[:16], "big"))


def test_pay_posts_the_hold(pay):
    intent = pay.intent(1234)
    assert intent["status"] == "requires_confirmation" and intent["amount"] == "1234"
    assert intent["risk"] is None and intent["currency"] == "USD"
    hold = pay.node.call("GET", "/v1/transfers/%s" % intent["transfer_id"]).json()
    assert "pending" in hold["flags"] and hold["amount"] == "1234"
    assert pay.held(1234)
    ch = pay.challenge(intent["id"])
    pk = ch["publicKey"]
    assert pk["userVerification"] == "required" and pk["rpId"] == "localhost"
    assert pk["allowCredentials"] == [{"type": "public-key", "id": b64u(pay.auth.credential_id),
                                       "transports": ["internal"]}]
    assert len(unb64u(pk["challenge"])) == 32 and ch["expires_at"].endswith("Z")
    spc = ch["secure_payment_confirmation"]
    assert spc["total"] == {"currency": "USD", "value": "12.34"}
    assert spc["credentialIds"] == [b64u(pay.auth.credential_id)]
    r = pay.confirm(intent["id"], pay.auth.get(pk, pay.node.origin))
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "succeeded" and done["transfer_id"] == intent["transfer_id"]
    assert done["post_transfer_id"] == settle_id(intent["transfer_id"], b"P")
    assert pay.account(pay.payer)["debits_posted"] == "1234"
    assert pay.account(pay.merchant)["credits_posted"] == "1234"
    assert pay.account(pay.payer)["debits_pending"] == "0"
    got = pay.node.call("GET", "/v1/payment-intents/%s" % intent["id"]).json()
    assert got["status"] == "succeeded"
    cred = pay.node.call("GET", "/v1/users/%s/credentials" % pay.user).json()["data"][0]
    assert cred["sign_count"] == 1 and cred["last_used"] is not None


@pytest.mark.parametrize("tamper,want", [
    ({"uv": False}, "user_verification_required"),
    ({"bad_signature": True}, "signature_invalid"),
    ({"challenge": b64u(b"\x07" * 32)}, "challenge_mismatch"),
    ({"client_type": "webauthn.create"}, "type_mismatch"),
])
def test_refusals_move_no_money(pay, tamper, want):
    intent = pay.intent(500)
    pk = pay.challenge(intent["id"])["publicKey"]
    r = pay.confirm(intent["id"], pay.auth.get(pk, pay.node.origin, **tamper))
    assert r.status_code == 400 and code(r) == want, r.text
    assert pay.held(500)
    # The challenge is spent: even a good assertion over it is refused now.
    r = pay.confirm(intent["id"], pay.auth.get(pk, pay.node.origin))
    assert code(r) == "challenge_used"
    assert pay.held(500)


def test_a_challenge_for_another_payment_is_refused(pay):
    """The amount changed after the challenge: the signature covers the old one."""
    small, large = pay.intent(100), pay.intent(100000)
    pk_small = pay.challenge(small["id"])["publicKey"]
    pay.challenge(large["id"])
    r = pay.confirm(large["id"], pay.auth.get(pk_small, pay.node.origin))
    assert r.status_code == 400 and code(r) == "challenge_mismatch"
    assert pay.account(pay.payer)["debits_posted"] == "0"


def test_replayed_assertion(pay):
    intent = pay.intent(700)
    pk = pay.challenge(intent["id"])["publicKey"]
    assertion = pay.auth.get(pk, pay.node.origin)
    assert pay.confirm(intent["id"], assertion).status_code == 200
    r = pay.confirm(intent["id"], assertion)
    assert r.status_code == 400 and code(r) == "challenge_used"
    assert pay.account(pay.payer)["debits_posted"] == "700"
    r = pay.node.call("POST", "/v1/payment-intents/%s/challenge" % intent["id"], {})
    assert r.status_code == 409 and code(r) == "payment_intent_not_confirmable"


def test_counter_rollback(pay):
    first = pay.intent(10)
    pk = pay.challenge(first["id"])["publicKey"]
    assert pay.confirm(first["id"], pay.auth.get(pk, pay.node.origin, count_step=5)).status_code == 200
    second = pay.intent(20)
    pk = pay.challenge(second["id"])["publicKey"]
    r = pay.confirm(second["id"], pay.auth.get(pk, pay.node.origin, count_step=-2))
    assert r.status_code == 400 and code(r) == "sign_count_regressed"
    assert pay.held(20) is False and pay.account(pay.payer)["debits_posted"] == "10"
    assert pay.account(pay.payer)["debits_pending"] == "20"


def test_unknown_or_deleted_credential(pay):
    intent = pay.intent(30)
    pk = pay.challenge(intent["id"])["publicKey"]
    stranger = Authenticator()
    r = pay.confirm(intent["id"], stranger.get(pk, pay.node.origin))
    assert r.status_code == 400 and code(r) == "credential_unknown"
    pk = pay.challenge(intent["id"])["publicKey"]
    r = pay.node.call("DELETE", "/v1/users/%s/credentials/%s" % (pay.user,
                                                                 b64u(pay.auth.credential_id)))
    assert r.status_code == 200
    r = pay.confirm(intent["id"], pay.auth.get(pk, pay.node.origin))
    assert r.status_code == 400 and code(r) == "credential_unknown"
    assert pay.held(30)


def test_no_challenge_and_expired_challenge(pay):
    intent = pay.intent(40, expires_in_s=1)
    r = pay.confirm(intent["id"], pay.auth.get({"challenge": b64u(b"x" * 32), "rpId": "localhost"},
                                               pay.node.origin))
    assert r.status_code == 400 and code(r) == "challenge_not_issued"
    pk = pay.challenge(intent["id"])["publicKey"]
    time.sleep(1.3)
    r = pay.confirm(intent["id"], pay.auth.get(pk, pay.node.origin))
    assert r.status_code == 400 and code(r) == "challenge_expired"
    assert pay.node.call("GET", "/v1/payment-intents/%s" % intent["id"]).json()["status"] == "expired"
    assert pay.account(pay.payer)["debits_posted"] == "0"


def test_cancel_voids_the_hold(pay):
    intent = pay.intent(55)
    pk = pay.challenge(intent["id"])["publicKey"]
    r = pay.node.call("POST", "/v1/payment-intents/%s/cancel" % intent["id"], {})
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    assert r.json()["void_transfer_id"] == settle_id(intent["transfer_id"], b"V")
    a = pay.account(pay.payer)
    assert a["debits_pending"] == "0" and a["debits_posted"] == "0"
    r = pay.confirm(intent["id"], pay.auth.get(pk, pay.node.origin))
    assert r.status_code == 400 and code(r) == "challenge_used"
    r = pay.node.call("POST", "/v1/payment-intents/%s/cancel" % intent["id"], {})
    assert r.status_code == 409 and code(r) == "payment_intent_not_confirmable"


def spc_payment(pay, pk, **change):
    p = {"rpId": "localhost", "topOrigin": pay.node.origin, "payeeName": "Coffee Shop",
         "payeeOrigin": "https://shop.example",
         "total": {"currency": "USD", "value": "12.34"},
         "instrument": {"displayName": "Card 1234", "icon": "https://bank.example/card.png"}}
    p.update(change)
    return pay.auth.get(pk, pay.node.origin, client_type="payment.get", payment=p)


def test_secure_payment_confirmation(pay):
    extra = {"payee_origin": "https://shop.example",
             "instrument": {"display_name": "Card 1234", "icon": "https://bank.example/card.png"}}
    for change, want in [({"total": {"currency": "USD", "value": "12.35"}}, "payment_mismatch"),
                         ({"total": {"currency": "EUR", "value": "12.34"}}, "payment_mismatch"),
                         ({"payeeName": "Other Shop"}, "payment_mismatch"),
                         ({"payeeOrigin": "https://evil.example"}, "payment_mismatch"),
                         ({"rpId": "evil.example"}, "payment_mismatch"),
                         ({"topOrigin": "https://evil.example"}, "payment_mismatch"),
                         ({"instrument": {"displayName": "Card 9", "icon": "x"}},
                          "payment_mismatch"),
                         ({}, None)]:
        intent = pay.intent(1234, **extra)
        ch = pay.challenge(intent["id"])
        assert ch["secure_payment_confirmation"]["payeeOrigin"] == "https://shop.example"
        r = pay.confirm(intent["id"], spc_payment(pay, ch["publicKey"], **change))
        if want is None:
            assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
        else:
            assert r.status_code == 400 and code(r) == want, (change, r.text)
    assert pay.account(pay.payer)["debits_posted"] == "1234"


def test_eddsa_pays_too(tmp_dir):
    n = Node(os.path.join(tmp_dir, "home")).start()
    try:
        pay = Pay(n, EDDSA)
        intent = pay.intent(99)
        pk = pay.challenge(intent["id"])["publicKey"]
        assert pay.confirm(intent["id"], pay.auth.get(pk, n.origin)).status_code == 200
        assert pay.account(pay.payer)["debits_posted"] == "99"
    finally:
        n.stop()


def test_intent_validation(pay):
    base = {"user_id": pay.user, "debit_account_id": str(pay.payer),
            "credit_account_id": str(pay.merchant), "amount": "5", "ledger": LEDGER,
            "currency": "USD", "payee_name": "Shop", "order_id": "o-1"}
    for change, status, want in [({"currency": "usd"}, 400, "invalid_value"),
                                 ({"amount": "0"}, 400, "invalid_value"),
                                 ({"amount": "-5"}, 400, "invalid_value"),
                                 ({"ledger": 0}, 400, "invalid_value"),
                                 ({"expires_in_s": 0}, 400, "invalid_value"),
                                 ({"surprise": 1}, 400, "unknown_field"),
                                 ({"user_id": "0" * 32}, 404, "user_not_found"),
                                 ({"debit_account_id": str(new_id())}, 422,
                                  "debit_account_not_found")]:
        body = dict(base)
        body.update(change)
        r = pay.node.call("POST", "/v1/payment-intents", body)
        assert r.status_code == status and code(r) == want, (change, r.text)
    body = dict(base)
    del body["payee_name"]
    r = pay.node.call("POST", "/v1/payment-intents", body)
    assert r.status_code == 400 and code(r) == "missing_field"
    r = pay.node.call("GET", "/v1/payment-intents/%s" % ("0" * 32))
    assert r.status_code == 404 and code(r) == "payment_intent_not_found"


def test_a_key_restricted_to_other_ledgers(pay):
    out = quipu("keys", "create", "--data", pay.node.home, "--name", "ledger1",
                "--scope", "auth:read,auth:write", "--ledgers", "1")
    key = out.stdout.strip()
    time.sleep(1.1)  # keys created on a running node take effect within a second
    body = {"user_id": pay.user, "debit_account_id": str(pay.payer),
            "credit_account_id": str(pay.merchant), "amount": "5", "ledger": LEDGER,
            "currency": "USD", "payee_name": "Shop", "order_id": "o-1"}
    r = pay.node.call("POST", "/v1/payment-intents", body, key=key)
    assert r.status_code == 403 and code(r) == "ledger_not_allowed"
    intent = pay.intent(5)
    r = pay.node.call("GET", "/v1/payment-intents/%s" % intent["id"], key=key)
    assert r.status_code == 404
    r = pay.node.call("POST", "/v1/payment-intents/%s/cancel" % intent["id"], {}, key=key)
    assert r.status_code == 404 and pay.held(5)


def test_the_ledger_is_the_truth_about_the_hold(pay):
    """A hold posted or voided through the ledger's own API shows in the intent."""
    for flag, status in [("post_pending_transfer", "succeeded"),
                         ("void_pending_transfer", "canceled")]:
        intent = pay.intent(3)
        r = pay.node.call("POST", "/v1/transfers", [
            {"id": str(new_id()), "pending_id": intent["transfer_id"], "flags": [flag],
             "debit_account_id": "0", "credit_account_id": "0", "amount": "0", "ledger": 0,
             "code": 0}])
        assert r.json()["results"][0]["result"] == "ok", r.text
        got = pay.node.call("GET", "/v1/payment-intents/%s" % intent["id"]).json()
        assert got["status"] == status
        r = pay.node.call("POST", "/v1/payment-intents/%s/challenge" % intent["id"], {})
        assert r.status_code == 409 and code(r) == "payment_intent_not_confirmable"


def test_a_post_whose_record_was_lost_is_found_by_its_id(pay):
    """A crash between the ledger's post and the intent's record: the post (made
    with the derived id, as confirm makes it) still shows as the intent's."""
    for kind, flag, status, member in [(b"P", "post_pending_transfer", "succeeded",
                                        "post_transfer_id"),
                                       (b"V", "void_pending_transfer", "canceled",
                                        "void_transfer_id")]:
        intent = pay.intent(4)
        sid = settle_id(intent["transfer_id"], kind)
        r = pay.node.call("POST", "/v1/transfers", [
            {"id": sid, "pending_id": intent["transfer_id"], "flags": [flag],
             "debit_account_id": "0", "credit_account_id": "0", "amount": "0", "ledger": 0,
             "code": 0}])
        assert r.json()["results"][0]["result"] == "ok", r.text
        got = pay.node.call("GET", "/v1/payment-intents/%s" % intent["id"]).json()
        assert got["status"] == status and got[member] == sid


def test_list_pages_filters_and_refusals(pay):
    made = [pay.intent(10 + i) for i in range(3)]
    r = pay.node.call("POST", "/v1/payment-intents/%s/cancel" % made[1]["id"], {})
    assert r.status_code == 200, r.text
    r = pay.node.call("GET", "/v1/payment-intents?limit=2")
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["object"] == "list" and len(first["data"]) == 2 and first["next_cursor"]
    r = pay.node.call("GET", "/v1/payment-intents?limit=2&cursor=%s" % first["next_cursor"])
    second = r.json()
    ids = [i["id"] for i in first["data"] + second["data"]]
    assert ids == [m["id"] for m in made]  # oldest first, each once
    assert second["next_cursor"] is None
    r = pay.node.call("GET", "/v1/payment-intents?status=canceled")
    assert [i["id"] for i in r.json()["data"]] == [made[1]["id"]]
    assert r.json()["data"][0]["void_transfer_id"]
    r = pay.node.call("GET", "/v1/payment-intents?user_id=%s" % ("0" * 32))
    assert r.json()["data"] == []
    r = pay.node.call("GET", "/v1/payment-intents?user_id=%s&limit=500" % pay.user)
    assert len(r.json()["data"]) == 3
    r = pay.node.call("GET", "/v1/payment-intents?created_from=%d" % (int(time.time()) + 3600))
    assert r.json()["data"] == []
    for query, path in [("limit=0", "limit"), ("limit=501", "limit"), ("status=paid", "status"),
                        ("cursor=abc", "cursor"), ("user_id=xyz", "user_id"),
                        ("created_from=10&created_to=5", "created_to"), ("nope=1", "nope")]:
        r = pay.node.call("GET", "/v1/payment-intents?" + query)
        assert r.status_code == 400 and r.json()["error"]["path"] == path, (query, r.text)
