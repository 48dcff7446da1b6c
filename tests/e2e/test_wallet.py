"""The wallet module (docs/wallet.md) against the real binary: a bank's
customers sign up and in with a passkey (the software authenticator of
webauthn_util.py), hold a session cookie, see their account and bills, and
pay each other with a payment intent confirmed by passkey.  The ledger's
own API (an operator key) shows whether money moved; the security tests
check that a session sees only its own user's money.
"""
import json
import os
import time

import pytest
import requests

from conftest import create_key, new_id
from webauthn_util import Authenticator, Node

LEDGER = 840


class WalletNode(Node):
    """`quipu node` with ledger, auth, payments and wallet."""

    def __init__(self, home, wallet=None, risk_rules=None):
        super().__init__(home)
        modules = {"ledger": {}, "auth": {}, "payments": {}, "wallet": wallet or {}}
        if risk_rules is not None:
            with open(os.path.join(home, "rules.txt"), "w") as f:
                f.write(risk_rules)
            modules = {"ledger": {}, "risk": {"ruleset_file": "rules.txt"}, "auth": {},
                       "payments": {}, "wallet": wallet or {}}
        with open(os.path.join(home, "node.json"), "w") as f:
            json.dump({"listen": "127.0.0.1:0", "modules": modules}, f)
        self.admin = create_key(home, "admin", "admin")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)


class User:
    """A browser: its own cookie jar and passkey."""

    def __init__(self, node, handle):
        self.node, self.handle = node, handle
        self.s = requests.Session()
        self.auth = Authenticator()

    def post(self, path, body=None, **kw):
        return self.s.post(self.node.url(path), json={} if body is None else body, timeout=30,
                           **kw)

    def get(self, path, **kw):
        return self.s.get(self.node.url(path), timeout=30, **kw)

    def signup(self):
        r = self.post("/v1/wallet/signup/options",
                      {"handle": self.handle, "display_name": self.handle.title()})
        assert r.status_code == 200, r.text
        o = r.json()
        assert o["publicKey"]["authenticatorSelection"]["residentKey"] == "required"
        cred = self.auth.create(o["publicKey"], self.node.origin)
        r = self.post("/v1/wallet/signup/verify", {"signup_id": o["signup_id"],
                                                    "credential": cred})
        assert r.status_code == 200, r.text
        self.me = r.json()
        self.account = self.me["accounts"][0]["id"]
        return r

    def login(self, handle=True, **tamper):
        r = self.post("/v1/wallet/login/options", {"handle": self.handle} if handle else {})
        assert r.status_code == 200, r.text
        o = r.json()
        cred = self.auth.get(o["publicKey"], self.node.origin, **tamper)
        return self.post("/v1/wallet/login/verify", {"login_id": o["login_id"],
                                                      "credential": cred})

    def sign(self, public_key, **tamper):
        return self.auth.get(public_key, self.node.origin, **tamper)


def account(node, id_):
    r = node.call("GET", "/v1/accounts/%s" % id_)
    assert r.status_code == 200, r.text
    return r.json()


def deposit(node, handle, amount):
    r = requests.post(node.url("/v1/wallet/users/%s/deposit" % handle),
                      json={"amount": str(amount)},
                      headers={"Authorization": "Bearer " + node.admin}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def node(tmp_dir):
    n = WalletNode(os.path.join(tmp_dir, "home")).start()
    yield n
    if n.proc.poll() is None:
        n.stop()


@pytest.fixture
def pair(node):
    a, b = User(node, "alice"), User(node, "bob")
    a.signup()
    b.signup()
    deposit(node, "alice", 10000)
    return a, b


def transfer(a, to, amount):
    r = a.post("/v1/wallet/transfers", {"to": to, "amount": str(amount)})
    assert r.status_code == 200, r.text
    return r.json()


def test_signup_sets_a_strict_session_cookie(node):
    a = User(node, "alice")
    r = a.signup()
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("quipu_session=")
    for attr in ("Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=43200"):
        assert attr in cookie
    assert "Secure" not in cookie  # plaintext loopback
    me = a.get("/v1/wallet/me").json()
    assert me["user"]["handle"] == "alice" and me["user"]["display_name"] == "Alice"
    acc = me["accounts"][0]
    assert acc["balance"] == "0" and acc["pending"] == "0" and acc["currency"] == "USD"
    ledger = account(node, acc["id"])
    assert "debits_must_not_exceed_credits" in ledger["flags"] and "history" in ledger["flags"]
    assert ledger["ledger"] == LEDGER
    metrics = requests.get(node.url("/metrics"), timeout=30).text
    assert "quipu_wallet_signups_total 1" in metrics
    # the handle is now taken
    r = User(node, "alice").post("/v1/wallet/signup/options",
                                 {"handle": "alice", "display_name": "Other"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "handle_taken"


def test_bad_inputs_name_the_field(node):
    a = User(node, "alice")
    r = a.post("/v1/wallet/signup/options", {"handle": "a b", "display_name": "x"})
    assert r.status_code == 400 and r.json()["error"]["path"] == "handle"
    r = a.post("/v1/wallet/signup/options", {"handle": "ab"})
    assert r.status_code == 400 and r.json()["error"]["path"] == "display_name"
    r = a.post("/v1/wallet/signup/options", {"handle": "ab", "display_name": "x", "z": 1})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_field"
    r = a.s.post(node.url("/v1/wallet/signup/options"), data="handle=x",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415


def test_no_cookie_is_401(node):
    for path in ("/v1/wallet/me", "/v1/wallet/bills", "/v1/wallet/bills/1",
                 "/v1/wallet/intents/" + "0" * 32, "/v1/wallet/users/alice"):
        r = requests.get(node.url(path), timeout=30)
        assert r.status_code == 401 and r.json()["error"]["code"] == "session_required", path
    r = requests.post(node.url("/v1/wallet/transfers"), json={"to": "x", "amount": "1"},
                      timeout=30)
    assert r.status_code == 401
    r = requests.get(node.url("/v1/wallet/me"), cookies={"quipu_session": "x" * 43}, timeout=30)
    assert r.status_code == 401


def test_login_discoverable_and_by_handle(node):
    a = User(node, "alice")
    a.signup()
    a.s.cookies.clear()
    assert a.get("/v1/wallet/me").status_code == 401
    r = a.login(handle=False)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["handle"] == "alice"
    assert a.get("/v1/wallet/me").status_code == 200
    a.s.cookies.clear()
    r = a.login(bad_signature=True)
    assert r.status_code == 400 and r.json()["error"]["code"] == "signature_invalid"
    assert "Set-Cookie" not in r.headers
    r = a.login()
    assert r.status_code == 200


def test_logout_and_operator_revoke(node):
    a = User(node, "alice")
    a.signup()
    token = a.s.cookies["quipu_session"]
    r = a.post("/v1/wallet/logout")
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    r = requests.get(node.url("/v1/wallet/me"), cookies={"quipu_session": token}, timeout=30)
    assert r.status_code == 401  # the old token is revoked, not only forgotten
    assert a.login().status_code == 200
    b = User(node, "alice")
    b.auth = a.auth
    assert b.login().status_code == 200
    r = requests.delete(node.url("/v1/wallet/users/alice/sessions"),
                        headers={"Authorization": "Bearer " + node.admin}, timeout=30)
    assert r.status_code == 200 and r.json()["revoked"] == 2
    assert a.get("/v1/wallet/me").status_code == 401
    assert b.get("/v1/wallet/me").status_code == 401
    # the operator routes need the admin scope, not a session
    r = a.post("/v1/wallet/users/alice/deposit", {"amount": "5"})
    assert r.status_code == 401


def test_session_expires(tmp_dir):
    n = WalletNode(os.path.join(tmp_dir, "home"), {"session_ttl_s": 2}).start()
    try:
        a = User(n, "alice")
        r = a.signup()
        assert "Max-Age=2" in r.headers["Set-Cookie"]
        token = a.s.cookies["quipu_session"]
        assert a.get("/v1/wallet/me").status_code == 200
        deadline = time.time() + 10
        while True:  # the server refuses it from its expires_s second on
            r = requests.get(n.url("/v1/wallet/me"), cookies={"quipu_session": token},
                             timeout=30)
            if r.status_code == 401:
                break
            assert r.status_code == 200 and time.time() < deadline
            time.sleep(0.2)
        assert r.json()["error"]["code"] == "session_required"
    finally:
        n.stop()


def test_unknown_setting_stops_the_node(tmp_dir):
    n = WalletNode(os.path.join(tmp_dir, "home"), {"colour": "blue"})
    with pytest.raises(RuntimeError) as e:
        n.start()
    assert "modules.wallet.colour" in str(e.value)


def test_deposit_and_transfer_confirmed_by_passkey(node, pair):
    a, b = pair
    me = a.get("/v1/wallet/me").json()
    assert me["accounts"][0]["balance"] == "10000"
    assert b.get("/v1/wallet/users/alice").json() == {"handle": "alice",
                                                       "display_name": "Alice"}
    t = transfer(a, "bob", 1234)
    intent = t["intent"]
    assert intent["status"] == "requires_confirmation" and intent["amount"] == "1234"
    assert intent["payee_name"] == "Bob"
    assert a.get("/v1/wallet/me").json()["accounts"][0]["pending"] == "1234"
    # a wrong signature: refused, nothing moved
    r = a.post("/v1/wallet/intents/%s/confirm" % intent["id"],
               {"credential": a.sign(t["publicKey"], bad_signature=True)})
    assert r.status_code == 400 and r.json()["error"]["code"] == "signature_invalid"
    assert account(a.node, b.account)["credits_posted"] == "0"
    assert account(a.node, a.account)["debits_posted"] == "0"
    # a fresh challenge, the right signature
    r = a.post("/v1/wallet/intents/%s/challenge" % intent["id"])
    assert r.status_code == 200, r.text
    r = a.post("/v1/wallet/intents/%s/confirm" % intent["id"],
               {"credential": a.sign(r.json()["publicKey"])})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded"
    assert account(a.node, b.account)["credits_posted"] == "1234"
    assert a.get("/v1/wallet/me").json()["accounts"][0]["balance"] == str(10000 - 1234)
    assert b.get("/v1/wallet/me").json()["accounts"][0]["balance"] == "1234"
    # one bill per two-phase payment, on both sides
    bills = a.get("/v1/wallet/bills").json()["data"]
    assert [x["kind"] for x in bills] == ["transfer", "deposit"]
    out = bills[0]
    assert out["direction"] == "out" and out["status"] == "posted" and out["amount"] == "1234"
    assert out["counterparty"] == {"kind": "user", "name": "Bob", "handle": "bob"}
    assert out["intent_id"] == intent["id"] and out["id"] == intent["transfer_id"]
    assert bills[1]["counterparty"]["kind"] == "bank" and bills[1]["direction"] == "in"
    inb = b.get("/v1/wallet/bills").json()["data"]
    assert len(inb) == 1 and inb[0]["direction"] == "in"
    assert inb[0]["counterparty"]["handle"] == "alice"
    detail = a.get("/v1/wallet/bills/%s" % out["id"]).json()
    assert [t["flags"] for t in detail["transfers"]] == [["pending"], ["post_pending_transfer"]]


def test_transfer_refusals(node, pair):
    a, b = pair
    r = a.post("/v1/wallet/transfers", {"to": "nobody", "amount": "1"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "payee_not_found"
    r = a.post("/v1/wallet/transfers", {"to": "alice", "amount": "1"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "cannot_pay_self"
    for bad in ("0", "-1", "1.5", "", "abc"):
        r = a.post("/v1/wallet/transfers", {"to": "bob", "amount": bad})
        assert r.status_code == 400 and r.json()["error"]["path"] == "amount", bad
    r = a.post("/v1/wallet/transfers", {"to": "bob", "amount": "10001"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "exceeds_credits"
    assert a.get("/v1/wallet/me").json()["accounts"][0]["pending"] == "0"


def test_risk_block_moves_nothing(tmp_dir):
    rules = 'list blocked_payees set\nrule blocked: payee in blocked_payees => block "no"\n'
    n = WalletNode(os.path.join(tmp_dir, "home"), risk_rules=rules).start()
    try:
        a, b = User(n, "alice"), User(n, "bob")
        a.signup()
        b.signup()
        deposit(n, "alice", 1000)
        r = n.call("POST", "/v1/risk/lists/blocked_payees", {"add": [b.account]}, key=n.admin)
        assert r.status_code == 200, r.text
        r = a.post("/v1/wallet/transfers", {"to": "bob", "amount": "10"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "risk_blocked", r.text
        assert a.get("/v1/wallet/me").json()["accounts"][0]["pending"] == "0"
        assert len(a.get("/v1/wallet/bills").json()["data"]) == 1  # the deposit only
    finally:
        n.stop()


def test_cancel_voids_the_hold(node, pair):
    a, b = pair
    t = transfer(a, "bob", 500)
    r = a.post("/v1/wallet/intents/%s/cancel" % t["intent"]["id"])
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    bills = a.get("/v1/wallet/bills").json()["data"]
    assert bills[0]["status"] == "voided"
    assert a.get("/v1/wallet/me").json()["accounts"][0]["balance"] == "10000"


def test_another_users_things_are_not_found(node, pair):
    a, b = pair
    t = transfer(a, "bob", 700)
    iid = t["intent"]["id"]
    for path in ("/v1/wallet/intents/%s" % iid,):
        r = b.get(path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "payment_intent_not_found"
    r = b.post("/v1/wallet/intents/%s/challenge" % iid)
    assert r.status_code == 404
    r = b.post("/v1/wallet/intents/%s/confirm" % iid, {"credential": b.sign(t["publicKey"])})
    assert r.status_code == 404
    r = b.post("/v1/wallet/intents/%s/cancel" % iid)
    assert r.status_code == 404
    # A's bill (the deposit, the hold) is not B's
    bill = a.get("/v1/wallet/bills").json()["data"][1]["id"]
    r = b.get("/v1/wallet/bills/%s" % bill)
    assert r.status_code == 404 and r.json()["error"]["code"] == "bill_not_found"
    # nothing moved: the hold still waits for A
    assert a.get("/v1/wallet/intents/%s" % iid).json()["status"] == "requires_confirmation"
    assert account(node, b.account)["credits_posted"] == "0"
    # B's passkey cannot confirm A's intent even through A's session
    r = a.post("/v1/wallet/intents/%s/confirm" % iid, {"credential": b.sign(t["publicKey"])})
    assert r.status_code == 400 and r.json()["error"]["code"] == "credential_unknown"
    assert account(node, b.account)["credits_posted"] == "0"


def test_bills_by_month_search_and_pages(node, pair):
    a, b = pair
    for amount in (101, 202, 303):
        t = transfer(a, "bob", amount)
        r = a.post("/v1/wallet/intents/%s/confirm" % t["intent"]["id"],
                   {"credential": a.sign(t["publicKey"])})
        assert r.status_code == 200, r.text
    month = time.strftime("%Y-%m", time.gmtime())
    assert len(a.get("/v1/wallet/bills?month=" + month).json()["data"]) == 4
    assert a.get("/v1/wallet/bills?month=2001-01").json()["data"] == []
    r = a.get("/v1/wallet/bills?month=2001-13")
    assert r.status_code == 400 and r.json()["error"]["path"] == "month"
    assert [x["amount"] for x in a.get("/v1/wallet/bills?q=BOB").json()["data"]] == \
        ["303", "202", "101"]
    assert [x["amount"] for x in a.get("/v1/wallet/bills?q=2.02").json()["data"]] == ["202"]
    assert [x["amount"] for x in a.get("/v1/wallet/bills?q=303").json()["data"]] == ["303"]
    assert [x["kind"] for x in a.get("/v1/wallet/bills?q=bank").json()["data"]] == ["deposit"]
    seen, cursor = [], None
    while True:
        r = a.get("/v1/wallet/bills?limit=1" + ("&cursor=" + cursor if cursor else ""))
        assert r.status_code == 200, r.text
        seen += [x["amount"] for x in r.json()["data"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ["303", "202", "101", "10000"]
    r = a.get("/v1/wallet/bills?month=%s&cursor=1000000000000000000" % month)
    assert r.status_code == 200 and r.json() == {"data": [], "next_cursor": None}
    r = a.get("/v1/wallet/bills?limit=0")
    assert r.status_code == 400 and r.json()["error"]["path"] == "limit"


def test_operator_user_lookup(node, pair):
    r = requests.get(node.url("/v1/wallet/users?handle=alice"),
                     headers={"Authorization": "Bearer " + node.admin}, timeout=30)
    assert r.status_code == 200 and r.json()["accounts"][0]["balance"] == "10000"
    r = requests.get(node.url("/v1/wallet/users?handle=zed"),
                     headers={"Authorization": "Bearer " + node.admin}, timeout=30)
    assert r.status_code == 404
    r = requests.get(node.url("/v1/wallet/users?handle=alice"),
                     headers={"Authorization": "Bearer " + node.key}, timeout=30)
    assert r.status_code == 403


class Shop:
    """A merchant whose settlement account is on the wallet's ledger."""

    def __init__(self, node):
        self.node = node
        self.settlement = new_id()
        r = node.call("POST", "/v1/accounts", [{"id": str(self.settlement), "ledger": LEDGER,
                                                "code": 1, "flags": []}], key=node.admin)
        assert r.json()["results"][0]["result"] == "ok", r.text
        r = node.call("POST", "/v1/merchants", {"name": "Tea House",
                                                "settlement_account_id": str(self.settlement),
                                                "ledger": LEDGER, "currency": "USD"},
                      key=node.admin)
        assert r.status_code == 200, r.text
        self.merchant = r.json()

    def order(self, amount):
        r = self.node.call("POST", "/v1/orders", {"merchant_id": self.merchant["id"],
                                                  "amount": str(amount), "ledger": LEDGER,
                                                  "currency": "USD"}, key=self.node.admin)
        assert r.status_code == 200, r.text
        return r.json()

    def collect(self, order, code):
        return self.node.call("POST", "/v1/orders/%s/collect" % order["id"],
                              {"payment_code": code}, key=self.node.admin)


def test_scan_and_pay_an_order(node, pair):
    a, b = pair
    shop = Shop(node)
    o = shop.order(1500)
    r = a.post("/v1/wallet/scan", {"payload": o["qr"]})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"] == o["id"] and got["merchant_name"] == "Tea House"
    assert got["amount"] == "1500" and got["status"] == "open" and got["currency"] == "USD"
    bad = o["qr"][:-4] + ("0000" if not o["qr"].endswith("0000") else "1111")
    r = a.post("/v1/wallet/scan", {"payload": bad})
    assert r.status_code == 400 and r.json()["error"]["path"] == "63"
    r = a.post("/v1/wallet/orders/%s/pay" % o["id"])
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["intent"]["order_id"] == o["id"] and t["intent"]["payee_name"] == "Tea House"
    r = a.post("/v1/wallet/intents/%s/confirm" % t["intent"]["id"],
               {"credential": a.sign(t["publicKey"])})
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    assert account(node, str(shop.settlement))["credits_posted"] == "1500"
    deadline = time.time() + 10
    while a.get("/v1/wallet/orders/%s" % o["id"]).json()["status"] != "paid":
        assert time.time() < deadline, "the order was never marked paid"
        time.sleep(0.1)
    r = a.post("/v1/wallet/orders/%s/pay" % o["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "order_not_payable"
    assert r.json()["error"]["status"] == "paid"
    bill = a.get("/v1/wallet/bills").json()["data"][0]
    assert bill["kind"] == "payment" and bill["counterparty"] == {"kind": "merchant",
                                                                   "name": "Tea House"}
    assert bill["order_id"] == o["id"]


def test_paycode_after_unlock_collected_by_a_shop(node, pair):
    a, b = pair
    shop = Shop(node)
    r = a.post("/v1/wallet/paycode")
    assert r.status_code == 401 and r.json()["error"]["code"] == "passkey_required"
    r = a.post("/v1/wallet/paycode/unlock")
    assert r.status_code == 200, r.text
    pk = r.json()["publicKey"]
    r = a.post("/v1/wallet/paycode", {"credential": b.sign(pk)})  # B's passkey: refused
    assert r.status_code in (400, 401)
    r = a.post("/v1/wallet/paycode/unlock")
    r = a.post("/v1/wallet/paycode", {"credential": a.sign(r.json()["publicKey"])})
    assert r.status_code == 200, r.text
    got = r.json()
    assert len(got["code"]) == 18 and got["code"].startswith("28")
    assert got["qr_svg"].lstrip().startswith("<")
    again = a.post("/v1/wallet/paycode")  # unlocked: no passkey needed now
    assert again.status_code == 200, again.text
    o = shop.order(800)
    r = shop.collect(o, got["code"])
    assert r.status_code == 200, r.text
    intent = r.json()["payment_intent_id"]
    assert r.json()["status"] == "requires_confirmation"
    r = a.get("/v1/wallet/intents/%s" % intent)
    assert r.status_code == 200 and r.json()["status"] == "requires_confirmation"
    assert b.get("/v1/wallet/intents/%s" % intent).status_code == 404
    pk = a.post("/v1/wallet/intents/%s/challenge" % intent).json()["publicKey"]
    r = a.post("/v1/wallet/intents/%s/confirm" % intent, {"credential": a.sign(pk)})
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    assert account(node, str(shop.settlement))["credits_posted"] == "800"
    # the other user's session cannot show A's code: it gets its own device
    r = b.post("/v1/wallet/paycode/unlock")
    r = b.post("/v1/wallet/paycode", {"credential": b.sign(r.json()["publicKey"])})
    assert r.status_code == 200 and r.json()["code"][2:8] != got["code"][2:8]


class Events:
    """An open GET /v1/wallet/events stream: its events as (name, data)."""

    def __init__(self, user):
        self.r = user.s.get(user.node.url("/v1/wallet/events"), stream=True, timeout=30)
        assert self.r.status_code == 200, self.r.text
        assert self.r.headers["Content-Type"].startswith("text/event-stream")
        self.lines = self.r.iter_lines(decode_unicode=True)

    def next(self, want, timeout=15):
        """The next event named want (others are skipped), or fails after timeout."""
        deadline, name, data = time.time() + timeout, None, []
        for line in self.lines:
            assert time.time() < deadline, "no %s event in time" % want
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "":
                if name == want:
                    return json.loads("\n".join(data))
                name, data = None, []
        raise AssertionError("the stream ended")

    def close(self):
        self.r.close()


def test_events_deliver_a_bill_when_money_arrives(node, pair):
    a, b = pair
    ev = Events(b)
    try:
        first = ev.next("balance")
        assert first[0]["balance"] == "0"
        t = transfer(a, "bob", 640)
        r = a.post("/v1/wallet/intents/%s/confirm" % t["intent"]["id"],
                   {"credential": a.sign(t["publicKey"])})
        assert r.status_code == 200, r.text
        bill = ev.next("bill")
        assert bill["direction"] == "in" and bill["amount"] == "640"
        assert bill["counterparty"]["handle"] == "alice"
        bal = ev.next("balance")
        assert bal[0]["balance"] == "640"
    finally:
        ev.close()


def test_events_show_a_collect_waiting_for_the_passkey(node, pair):
    a, b = pair
    shop = Shop(node)
    r = a.post("/v1/wallet/paycode/unlock")
    code = a.post("/v1/wallet/paycode", {"credential": a.sign(r.json()["publicKey"])}).json()
    ev = Events(a)
    try:
        ev.next("balance")
        o = shop.order(300)
        r = shop.collect(o, code["code"])
        assert r.status_code == 200, r.text
        intent = ev.next("intent")
        assert intent["id"] == r.json()["payment_intent_id"]
        assert intent["status"] == "requires_confirmation" and intent["amount"] == "300"
        pk = a.post("/v1/wallet/intents/%s/challenge" % intent["id"]).json()["publicKey"]
        r = a.post("/v1/wallet/intents/%s/confirm" % intent["id"], {"credential": a.sign(pk)})
        assert r.status_code == 200, r.text
        done = ev.next("bill")
        while done["status"] != "posted":
            done = ev.next("bill")
        assert done["intent_id"] == intent["id"] and done["kind"] == "payment"
    finally:
        ev.close()


def test_events_need_a_session_and_end_with_it(node, pair):
    a, b = pair
    r = requests.get(node.url("/v1/wallet/events"), timeout=30)
    assert r.status_code == 401
    ev = Events(a)
    try:
        ev.next("balance")
        r = a.post("/v1/wallet/logout")
        assert r.status_code == 200
        with pytest.raises(AssertionError, match="ended"):
            ev.next("bill", timeout=10)
    finally:
        ev.close()
