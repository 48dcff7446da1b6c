"""The shop flow of the payments module (docs/payments.md) against the real
binary: `quipu node` with ledger, auth and payments.  A merchant, an order
and its QR code; the customer's payment intent for the order, confirmed by
the software authenticator of webauthn_util.py; the order then reads paid
(observed on GET, in lists and by the module's tick, persisted once with an
order.paid event).  Intents that do not match the order never pay it; an
intent that succeeds for a canceled order makes it paid all the same
(paid_while says so) so that the money can be refunded.
"""
import hashlib
import hmac
import http.server
import json
import os
import re
import threading
import time

import pytest

from conftest import create_key, new_id
from webauthn_util import ES256, Authenticator, Node

LEDGER = 840


class ShopNode(Node):
    """webauthn_util's Node with the payments module and an admin key."""

    def __init__(self, home, payments=None):
        super().__init__(home)
        with open(os.path.join(home, "node.json"), "w") as f:
            json.dump({"listen": "127.0.0.1:0", "modules": {
                "ledger": {}, "auth": {}, "payments": payments or {}}}, f)
        self.key = create_key(home, "shop-ops", "admin")

    def call(self, method, path, body=None, key=None, idem=None):
        import requests
        h = {"Authorization": "Bearer " + (key or self.key)}
        if idem is not None:
            h["Idempotency-Key"] = idem
        return requests.request(method, "http://127.0.0.1:%d%s" % (self.port, path), json=body,
                                headers=h, timeout=30)


class Shop:
    """A merchant on a settlement account, and a customer (user, passkey,
    funded account) who pays its orders by scanning."""

    def __init__(self, node):
        self.node = node
        self.settlement, self.payer, self.bank = new_id(), new_id(), new_id()
        r = node.call("POST", "/v1/accounts", [
            {"id": str(self.settlement), "ledger": LEDGER, "code": 1,
             "flags": ["debits_must_not_exceed_credits"]}] + [
            {"id": str(i), "ledger": LEDGER, "code": 1, "flags": []}
            for i in (self.payer, self.bank)])
        assert [x["result"] for x in r.json()["results"]] == ["ok"] * 3, r.text
        self.fund(self.payer, 100000)
        r = node.call("POST", "/v1/merchants", {
            "name": "Coffee Shop", "settlement_account_id": str(self.settlement),
            "ledger": LEDGER, "currency": "USD", "city": "Lima", "country": "PE"})
        assert r.status_code == 200, r.text
        self.merchant = r.json()
        self.user = node.user("alice%d" % new_id())
        self.auth = Authenticator(ES256, "none")
        assert node.register(self.user, self.auth).status_code == 200

    def fund(self, account, amount):
        r = self.node.call("POST", "/v1/transfers", [{
            "id": str(new_id()), "debit_account_id": str(self.bank),
            "credit_account_id": str(account), "amount": str(amount), "ledger": LEDGER,
            "code": 1, "flags": []}])
        assert r.json()["results"][0]["result"] == "ok", r.text

    def order(self, amount=1234, **extra):
        body = {"merchant_id": self.merchant["id"], "amount": str(amount), "ledger": LEDGER,
                "currency": "USD", "reference": "INV-1"}
        body.update(extra)
        r = self.node.call("POST", "/v1/orders", body)
        assert r.status_code == 200, r.text
        return r.json()

    def intent(self, order, **change):
        """The wallet's intent for an order it scanned (QR -> order id)."""
        parsed = self.node.call("POST", "/v1/qr/parse", {"payload": order["qr"]}).json()
        body = {"user_id": self.user, "debit_account_id": str(self.payer),
                "credit_account_id": order["settlement_account_id"],
                "amount": order["amount"], "ledger": LEDGER, "currency": "USD",
                "payee_name": "Coffee Shop", "order_id": parsed["order_id"],
                "expires_in_s": 600}
        body.update(change)
        r = self.node.call("POST", "/v1/payment-intents", body)
        assert r.status_code == 200, r.text
        return r.json()

    def confirm(self, intent):
        r = self.node.call("POST", "/v1/payment-intents/%s/challenge" % intent["id"], {})
        assert r.status_code == 200, r.text
        cred = self.auth.get(r.json()["publicKey"], self.node.origin)
        r = self.node.call("POST", "/v1/payment-intents/%s/confirm" % intent["id"],
                           {"credential": cred})
        assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
        return r.json()

    def pay(self, order):
        return self.confirm(self.intent(order))

    def get(self, order_id):
        r = self.node.call("GET", "/v1/orders/" + order_id)
        assert r.status_code == 200, r.text
        return r.json()

    def balance(self, account):
        return self.node.call("GET", "/v1/accounts/%d" % account).json()


FAST_HOOKS = {"webhooks_allow_loopback_http": True, "webhook_retry_base_ms": 50,
              "webhook_retry_cap_ms": 200, "webhook_disable_after_s": 2}


def verify(secret, header, body, tolerance=300):
    """What a receiver runs (docs/payments.md): the signature over "t.body"."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    t, sig = int(parts["t"]), parts["v1"]
    want = hmac.new(secret.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig) and abs(time.time() - t) <= tolerance


class Receiver:
    """A local HTTP endpoint that records what it is sent; it answers
    `fail` (a status) to the first `failures` requests."""

    def __init__(self, failures=0, fail=500, port=0):
        self.got, self.failures, self.fail, self.times = [], failures, fail, []
        me = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                me.times.append(time.monotonic())
                me.got.append((dict(self.headers), body))
                status = me.fail if len(me.got) <= me.failures else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = "http://127.0.0.1:%d/hooks" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, secret):
        out = []
        for headers, body in self.got:
            assert verify(secret, headers["Quipu-Signature"], body), headers
            out.append(json.loads(body))
        return out

    def wait(self, n, timeout=10):
        deadline = time.time() + timeout
        while len(self.got) < n and time.time() < deadline:
            time.sleep(0.05)
        return len(self.got) >= n

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hooked(tmp_dir):
    n = ShopNode(os.path.join(tmp_dir, "home"), FAST_HOOKS).start()
    yield Shop(n)
    if n.proc.poll() is None:
        n.stop()


@pytest.fixture
def shop(tmp_dir):
    n = ShopNode(os.path.join(tmp_dir, "home")).start()
    yield Shop(n)
    if n.proc.poll() is None:
        n.stop()


def events(node, kind):
    m = re.search(r'quipu_payments_changes_total\{type="%s"\} (\d+)' % re.escape(kind),
                  node.call("GET", "/metrics").text)
    return int(m.group(1))


def test_an_order_paid_by_scanning(shop):
    order = shop.order(1234)
    assert order["status"] == "open" and order["settlement_account_id"] == str(shop.settlement)
    intent = shop.pay(order)
    got = shop.get(order["id"])
    assert got["status"] == "paid" and got["payment_intent_id"] == intent["id"]
    assert got["post_transfer_id"] == intent["post_transfer_id"]
    assert got["paid_while"] == "open" and got["amount_refunded"] == "0"
    assert got["payer_account_id"] == str(shop.payer) and got["paid_at"].endswith("Z")
    assert shop.balance(shop.settlement)["credits_posted"] == "1234"
    # Persisted once: reading again (GET, list) adds no second order.paid event.
    assert shop.get(order["id"]) == got
    listed = shop.node.call("GET", "/v1/orders?status=paid").json()["data"]
    assert [o["id"] for o in listed] == [order["id"]]
    assert events(shop.node, "order.paid") == 1
    r = shop.node.call("POST", "/v1/orders/%s/cancel" % order["id"], {})
    assert r.status_code == 409 and r.json()["error"]["status"] == "paid"
    r = shop.node.call("GET", "/v1/orders/%s/qr.svg" % order["id"])
    assert r.status_code == 409


def test_the_tick_observes_a_payment(shop):
    order = shop.order(500)
    shop.pay(order)
    deadline = time.time() + 5
    while events(shop.node, "order.paid") == 0 and time.time() < deadline:
        time.sleep(0.1)
    assert events(shop.node, "order.paid") == 1  # no GET: the module's tick saw it
    assert shop.get(order["id"])["status"] == "paid"
    assert events(shop.node, "order.paid") == 1


class OrderStream:
    """GET /v1/orders/{id}/events read on a thread: the `order` frames' JSON
    in .frames, .ended once the server closed the stream."""

    def __init__(self, shop, order_id, key=None):
        import requests
        self.frames, self.ended, self.lines = [], threading.Event(), []
        self.resp = requests.get("http://127.0.0.1:%d/v1/orders/%s/events" % (
            shop.node.port, order_id), headers={"Authorization": "Bearer " + (
                key or shop.node.key)}, stream=True, timeout=30)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        event, data = None, []
        try:
            for line in self.resp.iter_lines(decode_unicode=True):
                self.lines.append(line)
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and event is not None:
                    assert event == "order", event
                    self.frames.append(json.loads("\n".join(data)))
                    event, data = None, []
        except Exception:  # the test closed it
            pass
        self.ended.set()

    def wait(self, n, timeout=10):
        deadline = time.time() + timeout
        while len(self.frames) < n and time.time() < deadline:
            time.sleep(0.02)
        return len(self.frames) >= n

    def close(self):
        self.resp.close()


def test_order_events_stream(shop):
    """The shop page's stream: the order as it is, then paid (the intent
    succeeded in the auth module; the stream observes it), a partial
    refund, then refunded, after which the server ends the stream."""
    order = shop.order(1000)
    st = OrderStream(shop, order["id"])
    try:
        assert st.resp.status_code == 200
        assert st.resp.headers["Content-Type"].startswith("text/event-stream")
        assert st.wait(1) and st.frames[0]["status"] == "open"
        assert st.frames[0]["id"] == order["id"]
        t0 = time.time()
        shop.confirm(shop.intent(order))
        assert st.wait(2), st.lines
        assert time.time() - t0 < 3
        assert st.frames[1]["status"] == "paid" and st.frames[1]["paid_while"] == "open"
        assert refund(shop, order, 400).status_code == 200
        assert st.wait(3) and st.frames[2]["status"] == "partially_refunded"
        assert st.frames[2]["amount_refunded"] == "400"
        assert not st.ended.is_set()
        assert refund(shop, order, 600).status_code == 200
        assert st.wait(4) and st.frames[3]["status"] == "refunded"
        assert st.ended.wait(5)  # a final state ends the stream
        assert len(st.frames) == 4
    finally:
        st.close()


def test_order_events_end_and_refusals(shop):
    """A canceled order's stream is its one frame; a cancel while watching
    is the last frame; unknown orders and other merchants' keys get 404."""
    import requests
    done = shop.order(100)
    assert shop.node.call("POST", "/v1/orders/%s/cancel" % done["id"], {}).status_code == 200
    st = OrderStream(shop, done["id"])
    assert st.ended.wait(5) and [f["status"] for f in st.frames] == ["canceled"]
    live = shop.order(100)
    st = OrderStream(shop, live["id"])
    try:
        assert st.wait(1)
        assert shop.node.call("POST", "/v1/orders/%s/cancel" % live["id"], {}).status_code == 200
        assert st.ended.wait(5)
        assert [f["status"] for f in st.frames] == ["open", "canceled"]
    finally:
        st.close()
    base = "http://127.0.0.1:%d/v1/orders/" % shop.node.port
    r = requests.get(base + "0" * 32 + "/events", timeout=10,
                     headers={"Authorization": "Bearer " + shop.node.key})
    assert r.status_code == 404 and r.json()["error"]["code"]
    assert requests.get(base + live["id"] + "/events", timeout=10).status_code == 401
    other = shop.node.call("POST", "/v1/merchants", {
        "name": "Other", "settlement_account_id": str(shop.payer), "ledger": LEDGER,
        "currency": "USD"}).json()
    key = shop.node.call("POST", "/v1/merchants/%s/keys" % other["id"], {}).json()["key"]
    deadline = time.time() + 5
    while True:  # the new key is valid once the key file is re-read
        r = requests.get(base + live["id"] + "/events", timeout=10,
                         headers={"Authorization": "Bearer " + key})
        if r.status_code != 401 or time.time() > deadline:
            break
        time.sleep(0.05)
    assert r.status_code == 404, r.text


@pytest.mark.parametrize("change", [
    {"amount": "1233"},
    {"credit_account_id": "payer"},
    {"order_id": "not-this-order"},
])
def test_mismatched_intents_never_pay(shop, change):
    order = shop.order(1234)
    if change.get("credit_account_id") == "payer":
        other = new_id()
        r = shop.node.call("POST", "/v1/accounts",
                           [{"id": str(other), "ledger": LEDGER, "code": 1, "flags": []}])
        assert r.json()["results"][0]["result"] == "ok"
        change = {"credit_account_id": str(other)}
    shop.pay_intent = shop.intent(order, **change)
    shop.confirm(shop.pay_intent)
    time.sleep(1.2)
    assert shop.get(order["id"])["status"] == "open"
    assert events(shop.node, "order.paid") == 0


def test_a_pending_intent_does_not_pay(shop):
    order = shop.order(1234)
    shop.intent(order)
    assert shop.get(order["id"])["status"] == "open"


def test_a_canceled_order_paid_late_reads_paid(shop):
    order = shop.order(700)
    intent = shop.intent(order)
    r = shop.node.call("POST", "/v1/orders/%s/cancel" % order["id"], {})
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    shop.confirm(intent)  # the customer confirms after the cancel: the money moved
    got = shop.get(order["id"])
    assert got["status"] == "paid" and got["paid_while"] == "canceled"
    assert got["canceled_at"].endswith("Z")


def test_an_expired_order_paid_late_reads_paid(shop):
    order = shop.order(800, expires_in_s=1)
    intent = shop.intent(order)
    time.sleep(1.5)
    assert shop.get(order["id"])["status"] == "expired"
    shop.confirm(intent)
    got = shop.get(order["id"])
    assert got["status"] == "paid" and got["paid_while"] == "expired"


def refund(shop, order, amount, idem=None, key=None, **extra):
    body = {"order_id": order["id"], "amount": str(amount)}
    body.update(extra)
    return shop.node.call("POST", "/v1/refunds", body, idem=idem, key=key)


def code(r):
    return r.json()["error"]["code"]


def test_partial_and_full_refunds(shop):
    order = shop.order(1234)
    shop.pay(order)
    payer_before = int(shop.balance(shop.payer)["credits_posted"])
    r = refund(shop, order, 400, reason="one coffee was cold", idem="rf-1")
    assert r.status_code == 200, r.text
    rf = r.json()
    assert rf["object"] == "refund" and rf["status"] == "succeeded" and rf["amount"] == "400"
    assert rf["order_id"] == order["id"] and rf["reason"] == "one coffee was cold"
    assert rf["debit_account_id"] == str(shop.settlement)
    assert rf["credit_account_id"] == str(shop.payer)
    t = shop.node.call("GET", "/v1/transfers/%s" % rf["transfer_id"]).json()
    assert t["amount"] == "400" and t["debit_account_id"] == str(shop.settlement)
    assert t["credit_account_id"] == str(shop.payer)
    assert int(shop.balance(shop.payer)["credits_posted"]) == payer_before + 400
    got = shop.get(order["id"])
    assert got["status"] == "partially_refunded" and got["amount_refunded"] == "400"
    # The same Idempotency-Key: the same refund, no second transfer.
    again = refund(shop, order, 400, reason="one coffee was cold", idem="rf-1")
    assert again.status_code == 200 and again.json() == rf
    assert int(shop.balance(shop.payer)["credits_posted"]) == payer_before + 400
    r = refund(shop, order, 835)
    assert r.status_code == 422 and code(r) == "refund_exceeds_payment"
    assert r.json()["error"]["refundable"] == "834" and r.json()["error"]["path"] == "amount"
    r = refund(shop, order, 834)
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    assert shop.get(order["id"])["status"] == "refunded"
    assert shop.get(order["id"])["amount_refunded"] == "1234"
    r = refund(shop, order, 1)
    assert r.status_code == 422 and r.json()["error"]["refundable"] == "0"
    assert int(shop.balance(shop.payer)["credits_posted"]) == payer_before + 1234
    assert shop.node.call("GET", "/v1/refunds/" + rf["id"]).json() == rf
    listed = shop.node.call("GET", "/v1/refunds?order_id=" + order["id"]).json()
    assert [x["amount"] for x in listed["data"]] == ["400", "834"]
    assert listed["next_cursor"] is None
    page = shop.node.call("GET", "/v1/refunds?limit=1").json()
    assert len(page["data"]) == 1 and page["next_cursor"]
    rest = shop.node.call("GET", "/v1/refunds?limit=1&cursor=" + page["next_cursor"]).json()
    assert rest["data"][0]["amount"] == "834"
    assert events(shop.node, "refund.succeeded") == 2


def test_refusals_change_nothing(shop):
    order = shop.order(1000)
    r = refund(shop, order, 10)
    assert r.status_code == 409 and code(r) == "order_not_paid"
    assert r.json()["error"]["status"] == "open"
    assert refund(shop, {"id": "0" * 32}, 10).status_code == 404
    for bad, path in [({"amount": "0"}, "amount"), ({"amount": "-1"}, "amount"),
                      ({"reason": ""}, "reason"), ({"extra": 1}, "extra")]:
        body = {"order_id": order["id"], "amount": "10"}
        body.update(bad)
        r = shop.node.call("POST", "/v1/refunds", body)
        assert r.status_code == 400 and r.json()["error"]["path"] == path, r.text
    shop.pay(order)
    # The merchant moves its money out: its account cannot pay the refund.
    r = shop.node.call("POST", "/v1/transfers", [{
        "id": str(new_id()), "debit_account_id": str(shop.settlement),
        "credit_account_id": str(shop.bank), "amount": "900", "ledger": LEDGER, "code": 1,
        "flags": []}])
    assert r.json()["results"][0]["result"] == "ok", r.text
    r = refund(shop, order, 500, idem="rf-poor")
    assert r.status_code == 422 and code(r) == "exceeds_credits", r.text
    got = shop.get(order["id"])
    assert got["status"] == "paid" and got["amount_refunded"] == "0"
    assert got["amount_refunding"] == "0"
    assert shop.node.call("GET", "/v1/refunds").json()["data"] == []
    r = refund(shop, order, 100, idem="rf-poor")  # a refusal was not stored: runs anew
    assert r.status_code == 200, r.text
    assert shop.get(order["id"])["status"] == "partially_refunded"


def test_concurrent_refunds_never_overshoot(shop):
    import concurrent.futures
    order = shop.order(1234)
    shop.pay(order)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        rs = list(pool.map(lambda i: refund(shop, order, 300, idem="c-%d" % i), range(8)))
    assert sorted(r.status_code for r in rs) == [200] * 4 + [422] * 4
    got = shop.get(order["id"])
    assert got["amount_refunded"] == "1200" and got["status"] == "partially_refunded"
    assert int(shop.balance(shop.settlement)["debits_posted"]) == 1200


def test_merchant_keys_reach_their_own_refunds(shop):
    order = shop.order(1234)
    shop.pay(order)
    mine = shop.node.call("POST", "/v1/merchants/%s/keys" % shop.merchant["id"], {}).json()
    acct = new_id()
    shop.node.call("POST", "/v1/accounts",
                   [{"id": str(acct), "ledger": LEDGER, "code": 1, "flags": []}])
    other = shop.node.call("POST", "/v1/merchants", {
        "name": "Other", "settlement_account_id": str(acct), "ledger": LEDGER,
        "currency": "USD"}).json()
    theirs = shop.node.call("POST", "/v1/merchants/%s/keys" % other["id"], {}).json()
    time.sleep(0.3)
    r = refund(shop, order, 10, key=theirs["key"])
    assert r.status_code == 404 and code(r) == "order_not_found"
    r = refund(shop, order, 10, key=mine["key"])
    assert r.status_code == 200, r.text
    rid = r.json()["id"]
    assert shop.node.call("GET", "/v1/refunds/" + rid, key=theirs["key"]).status_code == 404
    assert shop.node.call("GET", "/v1/refunds/" + rid, key=mine["key"]).status_code == 200
    assert shop.node.call("GET", "/v1/refunds", key=theirs["key"]).json()["data"] == []
    assert len(shop.node.call("GET", "/v1/refunds", key=mine["key"]).json()["data"]) == 1
    r = shop.node.call("GET", "/v1/refunds?status=settled")
    assert r.status_code == 400 and r.json()["error"]["path"] == "status"
    r = shop.node.call("GET", "/v1/refunds?bogus=1")
    assert r.status_code == 400 and code(r) == "unknown_parameter"


def hook(shop, url, kinds=("order.paid", "refund.succeeded"), key=None):
    r = shop.node.call("POST", "/v1/webhooks", {"url": url, "events": list(kinds)}, key=key)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_shop_flow_with_webhooks(hooked, receiver):
    shop = hooked
    wh = hook(shop, receiver.url)
    assert wh["secret"].startswith("whsec_") and len(wh["secret"]) == 70
    assert wh["status"] == "enabled" and wh["events"] == ["order.paid", "refund.succeeded"]
    listed = shop.node.call("GET", "/v1/webhooks").json()["data"]
    assert [w["id"] for w in listed] == [wh["id"]] and "secret" not in listed[0]
    order = shop.order(1234)
    svg = shop.node.call("GET", "/v1/orders/%s/qr.svg" % order["id"])
    assert svg.status_code == 200 and svg.text.startswith("<")
    shop.pay(order)
    assert receiver.wait(1)
    paid = receiver.events(wh["secret"])[0]
    assert paid["type"] == "order.paid" and paid["id"].startswith("evt_")
    assert paid["data"]["object"]["id"] == order["id"]
    assert paid["data"]["object"]["status"] == "paid"
    assert refund(shop, order, 234, reason="partial").status_code == 200
    assert receiver.wait(2)
    rf = receiver.events(wh["secret"])[1]
    assert rf["type"] == "refund.succeeded" and rf["data"]["object"]["amount"] == "234"
    r = refund(shop, order, 1001)
    assert r.status_code == 422 and code(r) == "refund_exceeds_payment"
    # A wrong secret or a changed body does not verify.
    headers, body = receiver.got[0]
    assert not verify("whsec_" + "0" * 64, headers["Quipu-Signature"], body)
    assert not verify(wh["secret"], headers["Quipu-Signature"], body.replace(b"paid", b"piad"))
    log = shop.node.call("GET", "/v1/webhooks/%s/deliveries" % wh["id"]).json()["data"]
    assert [d["type"] for d in log] == ["refund.succeeded", "order.paid"]
    assert all(d["outcome"] == "succeeded" and d["http_status"] == 200 for d in log)
    time.sleep(0.5)
    assert len(receiver.got) == 2  # order.created was not asked for
    paths = shop.node.call("GET", "/v1/openapi.json").json()["paths"]
    for path, method in [("/v1/refunds", "post"), ("/v1/refunds", "get"),
                         ("/v1/refunds/{id}", "get"), ("/v1/webhooks", "post"),
                         ("/v1/webhooks", "get"), ("/v1/webhooks/{id}", "delete"),
                         ("/v1/webhooks/{id}/deliveries", "get")]:
        assert method in paths[path], path
    r = shop.node.call("DELETE", "/v1/webhooks/" + wh["id"])
    assert r.status_code == 200 and r.json()["deleted"] is True
    assert shop.node.call("GET", "/v1/webhooks").json()["data"] == []
    refund(shop, order, 1)
    time.sleep(0.5)
    assert len(receiver.got) == 2


def test_intent_events_reach_the_receiver(hooked, receiver):
    """payment_intent.succeeded right after order.paid, payment_intent.canceled
    once for an intent canceled while its order is open; both signed, both
    carrying the order and merchant ids, every event id unique."""
    shop = hooked
    wh = hook(shop, receiver.url, ["order.paid", "payment_intent.succeeded",
                                   "payment_intent.canceled"])
    assert wh["events"] == ["order.paid", "payment_intent.succeeded", "payment_intent.canceled"]
    order = shop.order(777)
    dropped = shop.intent(order)
    r = shop.node.call("POST", "/v1/payment-intents/%s/cancel" % dropped["id"], {})
    assert r.status_code == 200 and r.json()["status"] == "canceled", r.text
    for _ in range(3):  # observed three times, journaled once
        assert shop.get(order["id"])["status"] == "open"
    paid = shop.pay(order)
    assert shop.get(order["id"])["status"] == "paid"
    assert receiver.wait(3)
    time.sleep(0.3)  # nothing more may come (a fourth would be a duplicate)
    got = receiver.events(wh["secret"])
    assert [e["type"] for e in got] == ["payment_intent.canceled", "order.paid",
                                        "payment_intent.succeeded"], got
    assert len({e["id"] for e in got}) == 3
    canceled, ok = got[0]["data"]["object"], got[2]["data"]["object"]
    assert canceled["id"] == dropped["id"] and canceled["status"] == "canceled"
    assert canceled["post_transfer_id"] is None
    assert ok["id"] == paid["id"] and ok["status"] == "succeeded" and ok["amount"] == "777"
    assert ok["object"] == "payment_intent" and ok["post_transfer_id"] == paid["post_transfer_id"]
    for obj in (canceled, ok):
        assert obj["order_id"] == order["id"] and obj["merchant_id"] == shop.merchant["id"]
    assert got[1]["data"]["object"]["payment_intent_id"] == paid["id"]
    assert events(shop.node, "payment_intent.succeeded") == 1
    assert events(shop.node, "payment_intent.canceled") == 1
    # Another merchant's endpoint (its merchant key) hears nothing of these.
    other = shop.node.call("POST", "/v1/merchants", {
        "name": "Other", "settlement_account_id": str(shop.payer), "ledger": LEDGER,
        "currency": "USD"}).json()
    key = shop.node.call("POST", "/v1/merchants/%s/keys" % other["id"], {}).json()["key"]
    theirs = Receiver()
    try:
        body = {"url": theirs.url, "events": ["payment_intent.succeeded"]}
        deadline = time.time() + 5
        r = shop.node.call("POST", "/v1/webhooks", body, key=key)
        while r.status_code == 401 and time.time() < deadline:  # the key file is re-read
            time.sleep(0.05)
            r = shop.node.call("POST", "/v1/webhooks", body, key=key)
        assert r.status_code == 200, r.text
        shop.pay(shop.order(5))
        assert receiver.wait(5)
        time.sleep(0.3)
        assert theirs.got == []
    finally:
        theirs.close()


def test_an_expired_intent_is_announced_once_as_canceled(hooked, receiver):
    """An intent whose hold timed out (nobody confirmed it) is journaled as
    payment_intent.canceled with cancellation_reason "expired", once, and the
    order stays open for another payment; a canceled one says "canceled"."""
    shop = hooked
    wh = hook(shop, receiver.url, ["payment_intent.canceled"])
    order = shop.order(321)
    lapsed = shop.intent(order, expires_in_s=1)
    dropped = shop.intent(order)
    r = shop.node.call("POST", "/v1/payment-intents/%s/cancel" % dropped["id"], {})
    assert r.status_code == 200, r.text
    deadline = time.time() + 10
    while time.time() < deadline:  # the hold's timeout, then an observation of the order
        assert shop.get(order["id"])["status"] == "open"
        if events(shop.node, "payment_intent.canceled") == 2:
            break
        time.sleep(0.2)
    assert receiver.wait(2)
    for _ in range(3):
        shop.get(order["id"])
    time.sleep(0.3)  # seen again, journaled once
    got = receiver.events(wh["secret"])
    assert len(got) == 2, got
    by_id = {e["data"]["object"]["id"]: e["data"]["object"] for e in got}
    assert by_id[lapsed["id"]]["status"] == "expired"
    assert by_id[lapsed["id"]]["cancellation_reason"] == "expired"
    assert by_id[dropped["id"]]["cancellation_reason"] == "canceled"
    assert by_id[lapsed["id"]]["post_transfer_id"] is None
    assert events(shop.node, "payment_intent.canceled") == 2
    shop.pay(order)  # the order can still be paid
    assert shop.get(order["id"])["status"] == "paid"


def test_retries_in_order_then_disable(hooked):
    shop = hooked
    flaky = Receiver(failures=3)
    down = Receiver(failures=10 ** 6, fail=503)
    try:
        a = hook(shop, flaky.url, ["order.created"])
        b = hook(shop, down.url, ["*"])
        ids = [shop.order(100 + i)["id"] for i in range(3)]
        assert flaky.wait(6)
        got = flaky.events(a["secret"])
        assert [e["data"]["object"]["id"] for e in got] == [ids[0]] * 4 + ids[1:]
        assert len({e["id"] for e in got}) == 3  # a retry carries the same event id
        log = shop.node.call("GET", "/v1/webhooks/%s/deliveries" % a["id"]).json()["data"]
        assert [d["attempt"] for d in log[::-1][:4]] == [1, 2, 3, 4]
        assert [d["outcome"] for d in log[::-1][:4]] == ["failed"] * 3 + ["succeeded"]
        deadline = time.time() + 8
        while time.time() < deadline:
            w = [x for x in shop.node.call("GET", "/v1/webhooks").json()["data"]
                 if x["id"] == b["id"]][0]
            if w["status"] == "disabled":
                break
            time.sleep(0.1)
        assert w["status"] == "disabled" and "HTTP 503" in w["disabled_reason"], w
        n = len(down.got)
        assert n >= 5 and len({json.loads(x[1])["id"] for x in down.got}) == 1
        time.sleep(0.5)
        assert len(down.got) == n  # disabled: no more attempts
    finally:
        flaky.close()
        down.close()


def test_backoff_schedule_seen_by_the_receiver(hooked):
    shop = hooked
    slow = Receiver(failures=4)
    try:
        hook(shop, slow.url, ["order.created"])
        shop.order(100)
        assert slow.wait(5)
    finally:
        slow.close()
    # The waits between attempts double from 50 ms and stop at the 200 ms cap
    # (at least that long; the worker looks every 50 ms).
    gaps = [(b - a) * 1000 for a, b in zip(slow.times, slow.times[1:])][:4]
    for gap, want in zip(gaps, [50, 100, 200, 200]):
        assert want - 5 <= gap <= want + 250, gaps
    assert gaps[2] > gaps[0]


def test_webhook_registration_refusals(shop):
    for body, path in [({"url": "http://127.0.0.1:9/x", "events": ["order.paid"]}, "url"),
                       ({"url": "ftp://example.com/x", "events": ["order.paid"]}, "url"),
                       ({"url": "https://u:p@example.com/x", "events": ["order.paid"]}, "url"),
                       ({"url": "not a url", "events": ["order.paid"]}, "url"),
                       ({"url": "https://example.com/x", "events": []}, "events"),
                       ({"url": "https://example.com/x", "events": ["order.shipped"]},
                        "events[0]"),
                       ({"url": "https://example.com/x",
                         "events": ["order.paid", "order.paid"]}, "events[1]"),
                       ({"url": "https://example.com/x", "events": ["*", "order.paid"]},
                        "events[0]"),
                       ({"events": ["order.paid"]}, "url"),
                       ({"url": "https://example.com/x"}, "events"),
                       ({"url": "https://example.com/x", "events": ["*"], "x": 1}, "x"),
                       # SSRF: loopback and private targets, by literal or localhost name
                       ({"url": "https://127.0.0.1/x", "events": ["*"]}, "url"),
                       ({"url": "https://localhost:8443/x", "events": ["*"]}, "url"),
                       ({"url": "https://[::1]/x", "events": ["*"]}, "url"),
                       ({"url": "https://10.1.2.3/x", "events": ["*"]}, "url"),
                       ({"url": "https://192.168.0.10/x", "events": ["*"]}, "url"),
                       ({"url": "https://169.254.169.254/latest/meta-data", "events": ["*"]},
                        "url"),
                       ({"url": "https://[fd12::1]/x", "events": ["*"]}, "url"),
                       ({"url": "https://[::ffff:10.0.0.1]/x", "events": ["*"]}, "url"),
                       ({"url": "gopher://example.com/x", "events": ["*"]}, "url"),
                       ({"url": "https://user@example.com/x", "events": ["*"]}, "url")]:
        r = shop.node.call("POST", "/v1/webhooks", body)
        assert r.status_code == 400 and r.json()["error"]["path"] == path, (body, r.text)
    assert shop.node.call("GET", "/v1/webhooks").json()["data"] == []
    r = shop.node.call("POST", "/v1/webhooks", {"url": "https://example.com/x",
                                                "events": ["*"]}, idem="wh-1")
    assert r.status_code == 200
    again = shop.node.call("POST", "/v1/webhooks", {"url": "https://example.com/x",
                                                    "events": ["*"]}, idem="wh-1")
    assert again.json()["id"] == r.json()["id"]
    assert len(shop.node.call("GET", "/v1/webhooks").json()["data"]) == 1
    mine = shop.node.call("POST", "/v1/merchants/%s/keys" % shop.merchant["id"], {}).json()
    time.sleep(0.3)
    assert shop.node.call("GET", "/v1/webhooks", key=mine["key"]).json()["data"] == []
    r = shop.node.call("DELETE", "/v1/webhooks/" + r.json()["id"], key=mine["key"])
    assert r.status_code == 404


def test_delivery_refuses_a_name_that_resolves_to_loopback(shop):
    """A host name passes registration but is resolved at each delivery:
    this machine's own name resolves to a loopback or private address, so
    the node refuses to connect (the attempt is logged, nothing reaches the
    listener) while webhooks_allow_loopback_http is off."""
    import socket
    name = socket.gethostname()
    try:
        addrs = {a[4][0] for a in socket.getaddrinfo(name, 443, proto=socket.IPPROTO_TCP)}
    except socket.gaierror:
        pytest.skip("this machine's name does not resolve")
    import ipaddress
    if not any(ipaddress.ip_address(a.split("%")[0]).is_private or
               ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs):
        pytest.skip("this machine's name resolves to public addresses only")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    try:
        url = "https://%s:%d/hooks" % (name, listener.getsockname()[1])
        wh = hook(shop, url, ["order.created"])
        shop.order(100)
        deadline, log = time.time() + 10, []
        while not log and time.time() < deadline:
            log = shop.node.call("GET", "/v1/webhooks/%s/deliveries" % wh["id"]).json()["data"]
            time.sleep(0.05)
        assert log and log[0]["outcome"] == "failed" and log[0]["http_status"] == 0, log
        assert "refused" in log[0]["error"] and name in log[0]["error"], log
        with pytest.raises(BlockingIOError):
            listener.accept()  # the node never connected
    finally:
        listener.close()


def test_kill9_loses_nothing_and_doubles_nothing(hooked, receiver):
    """Orders paid, refunds running concurrently (each with its
    Idempotency-Key), kill -9 mid-way, restart, every refund retried: no
    refund exceeds what was paid, the ledger moved exactly the refunds
    recorded, and every order.paid and refund.succeeded reaches the
    receiver (at least once; one event id per change)."""
    import concurrent.futures
    import requests
    shop = hooked
    wh = hook(shop, receiver.url, ["*"])
    orders = [shop.order(1000) for _ in range(4)]
    for o in orders:
        shop.pay(o)
    plan = [(o, 50, "k-%d-%d" % (i, j)) for j in range(24) for i, o in enumerate(orders)]

    def run(item):
        o, amount, key = item
        try:
            return refund(shop, o, amount, idem=key)
        except requests.RequestException:
            return None

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(run, x) for x in plan]
        time.sleep(0.03)
        shop.node.kill9()
        before = [f.result() for f in futures]
    assert sum(r is None for r in before) > 0  # the kill cut some requests off
    from conftest import quipu
    v = quipu("verify", "--data", shop.node.home, check=False)
    assert v.returncode == 0 or re.search(r"\btorn\b", v.stdout + v.stderr), v.stdout + v.stderr
    shop.node.start()
    answered = {}
    for item in plan:  # the client retries every request (a replay or a new run)
        r = run(item)
        assert r.status_code in (200, 202, 422), (item, r.text)
        if r.status_code != 422:
            answered[item[2]] = r.json()["id"]  # 202: pending after the crash
    assert len(set(answered.values())) == len(answered)
    deadline = time.time() + 5
    while time.time() < deadline:
        got = [shop.get(o["id"]) for o in orders]
        if all(g["amount_refunding"] == "0" for g in got):
            break
        time.sleep(0.1)
    total = 0
    for o, g in zip(orders, got):
        assert g["amount_refunding"] == "0" and int(g["amount_refunded"]) <= 1000
        assert int(g["amount_refunded"]) == 1000  # twenty refunds of 50 fit, no more
        rs = shop.node.call("GET", "/v1/refunds?order_id=" + o["id"]).json()["data"]
        ok = [r for r in rs if r["status"] == "succeeded"]
        assert sum(int(r["amount"]) for r in ok) == int(g["amount_refunded"])
        for r in ok:
            t = shop.node.call("GET", "/v1/transfers/%s" % r["transfer_id"])
            assert t.status_code == 200 and t.json()["amount"] == r["amount"]
        total += int(g["amount_refunded"])
        # Each succeeded refund is the answer to exactly one request key.
        assert {r["id"] for r in ok} <= set(answered.values())
    assert int(shop.balance(shop.settlement)["debits_posted"]) == total
    assert int(shop.balance(shop.settlement)["credits_posted"]) == 4000
    assert shop.node.call("GET", "/v1/audit").json()["invariant_ok"] is True
    # Webhooks: every change arrives; a redelivery repeats its event id.
    deadline = time.time() + 10
    want_refunds = 80
    while time.time() < deadline:
        seen = {}
        for e in receiver.events(wh["secret"]):
            seen.setdefault(e["id"], e)
        kinds = [e["type"] for e in seen.values()]
        if kinds.count("refund.succeeded") >= want_refunds:
            break
        time.sleep(0.1)
    assert kinds.count("order.paid") == 4 and kinds.count("refund.succeeded") == want_refunds
    paid = {e["data"]["object"]["id"] for e in seen.values() if e["type"] == "order.paid"}
    assert paid == {o["id"] for o in orders}
    refunded = [e["data"]["object"]["id"] for e in seen.values()
                if e["type"] == "refund.succeeded"]
    assert len(set(refunded)) == want_refunds


def test_a_backlog_drains_at_once(hooked):
    """Events made while the receiver is down pile up; once it is back they all arrive, in
    order, within seconds: the worker goes round again while it delivers, and sleeps only
    when nothing moved (it used to deliver one event per endpoint every 50 ms, so a backlog
    of a few thousand after a crash took minutes)."""
    shop = hooked
    gone = Receiver()
    port = gone.server.server_address[1]
    gone.close()
    wh = hook(shop, gone.url, ["order.created"])
    orders = [shop.order(100) for _ in range(150)]
    back = Receiver(port=port)
    try:
        assert back.wait(150, timeout=4), len(back.got)
        seen = []
        for e in back.events(wh["secret"]):
            if e["data"]["object"]["id"] not in seen:
                seen.append(e["data"]["object"]["id"])
        assert seen == [o["id"] for o in orders]
    finally:
        back.close()


def test_settlements_list_the_money_that_moved(shop):
    a, b = shop.order(1000), shop.order(250)
    pa, pb = shop.pay(a), shop.pay(b)
    shop.order(999)  # open: moves nothing
    r = refund(shop, a, 300)
    assert r.status_code == 200, r.text
    rf = r.json()
    path = "/v1/merchants/%s/settlements" % shop.merchant["id"]
    r = shop.node.call("GET", path)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["object"] == "list" and got["next_cursor"] is None
    rows = [(s["type"], s["direction"], s["amount"], s["id"]) for s in got["data"]]
    assert rows == [("payment", "credit", "1000", pa["post_transfer_id"]),
                    ("payment", "credit", "250", pb["post_transfer_id"]),
                    ("refund", "debit", "300", rf["transfer_id"])]
    assert got["data"][0]["pending_id"] == pa["transfer_id"]
    assert got["data"][2]["counterparty_account_id"] == str(shop.payer)
    assert all(s["currency"] == "USD" and s["created"].endswith("Z") for s in got["data"])
    r = shop.node.call("GET", path + "?type=refund")
    assert [s["amount"] for s in r.json()["data"]] == ["300"]
    seen, cursor = [], None
    while True:
        r = shop.node.call("GET", path + "?limit=1" + ("&cursor=" + cursor if cursor else ""))
        assert r.status_code == 200, r.text
        seen += [s["id"] for s in r.json()["data"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [row[3] for row in rows]
    r = shop.node.call("GET", path + "?created_from=%d" % (int(time.time()) + 3600))
    assert r.json()["data"] == []
    r = shop.node.call("GET", "/v1/merchants/%s/settlements" % ("0" * 32))
    assert r.status_code == 404 and code(r) == "merchant_not_found"
    for query, where in [("limit=0", "limit"), ("type=fee", "type"), ("cursor=%%%", "cursor"),
                         ("created_from=9&created_to=3", "created_to"), ("x=1", "x")]:
        r = shop.node.call("GET", path + "?" + query)
        assert r.status_code == 400 and r.json()["error"]["path"] == where, (query, r.text)
