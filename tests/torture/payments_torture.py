#!/usr/bin/python3
"""kill -9 torture of the payments module (issue 16; docs/payments.md,
"Crash safety").  A real `quipu node` with the ledger, auth and payments
modules and a webhook endpoint (["*"]) on a local receiver in this process
that verifies every signature.  One round:

  1. load    - one client thread per customer: shops create orders (each
               POST with an Idempotency-Key), the customer pays them by a
               payment intent confirmed with its passkey (the software
               authenticator of tests/e2e/webauthn_util.py) or the shop
               collects them with one of the customer's payment codes (6
               enrolled devices each; Idempotency-Key), shops refund
               paid orders partially (Idempotency-Key), and resend earlier
               refunds with the same key and body.  Every request is sorted
               by what came back: answered, or in doubt (no answer).
  2. kill    - SIGKILL at a seeded random moment; one round in ten then
               starts the node and kills it again 0-40 ms later, while it
               opens its stores and recovers.
  3. verify  - `quipu verify --data HOME` on the crashed directory (exit 0;
               a torn journal tail is allowed, as in the ledger's torture).
  4. restart, then recover as a client would: every in-doubt POST is resent
     with its Idempotency-Key and body (a collect's retry may find the order
     paid already, or its code spent or expired), every intent left unconfirmed is
     read and confirmed, and refunds left pending settle (the module's
     recovery); then check:
       - the orders the node lists are exactly those the client created
         (one per Idempotency-Key, a replay answers the same id);
       - no order is paid twice: the settlement account's credits_posted is
         the sum of the paid orders' amounts, and each paid order has one
         order.paid event id (and one payment_intent.succeeded when an
         intent paid it); a collected order reads paid_by payment_code;
       - refunds never exceed what was paid: per order, the succeeded
         refunds sum to amount_refunded <= amount, each succeeded refund is
         the answer to one request key, and the settlement account's
         debits_posted is their total;
       - no webhook event is lost: order.created for every order, order.paid
         and payment_intent.succeeded for every paid one, refund.succeeded
         for every succeeded refund reach the receiver (redeliveries repeat
         the event id; one id per change);
       - GET /v1/audit holds its invariant.

Seeded: the customers' choices and the kill moments come from --seed (the
interleaving of threads does not).  Every --rounds-per-dir rounds the node
stops cleanly, `quipu verify` must pass outright, and a fresh directory
starts.  A failed round keeps its directory and prints how to replay.

Usage: payments_torture.py --kills N [--seed S] --quipu build/quipu
       [--load-ms-max MS] [--customers N] [--rounds-per-dir N] [--json FILE]
Exit 0 when every round passed, 1 otherwise.  Debian's python3-requests and
python3-cryptography (/usr/bin/python3).
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LEDGER = 840
HOOKS = {"webhooks_allow_loopback_http": True, "webhook_retry_base_ms": 50,
         "webhook_retry_cap_ms": 300, "webhook_disable_after_s": 86400,
         "collect_without_confirmation_max": 1000000}
DEVICES = 6  # wallet devices per customer: a code is good once per device and 30 s step


class Failed(Exception):
    """An invariant did not hold."""


def check(cond, what):
    if not cond:
        raise Failed(what)


class Receiver:
    """The merchant's webhook endpoint: verifies each signature, keeps the
    events by id (a redelivery is the same id)."""

    def __init__(self):
        self.secret, self.events, self.bad, self.lock = None, {}, [], threading.Lock()
        me = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                me.take(self.headers.get("Quipu-Signature", ""), body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hooks" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self, header, body):
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        want = hmac.new((self.secret or "").encode(), parts.get("t", "").encode() + b"." + body,
                        hashlib.sha256).hexdigest()
        with self.lock:
            if not hmac.compare_digest(want, parts.get("v1", "")):
                self.bad.append(body[:200])
                return
            e = json.loads(body)
            self.events[e["id"]] = e

    def reset(self, secret):
        with self.lock:
            self.secret, self.events, self.bad = secret, {}, []

    def by_type(self):
        """{type: {object key: set of event ids}}."""
        out = {}
        with self.lock:
            for eid, e in self.events.items():
                obj = e["data"]["object"]
                key = obj.get("order_id") if e["type"].startswith("payment_intent.") else obj["id"]
                out.setdefault(e["type"], {}).setdefault(key, set()).add(eid)
        return out


class Session:
    """One data directory: the node, the merchant, the customers."""

    def __init__(self, base, customers, receiver):
        from webauthn_util import ES256, EDDSA, Authenticator, Node
        from conftest import create_key
        self.home = tempfile.mkdtemp(prefix="quipu-paytorture-", dir=base)
        self.node = Node(self.home)
        with open(os.path.join(self.home, "node.json"), "w") as f:
            json.dump({"listen": "127.0.0.1:0", "modules": {
                "ledger": {}, "auth": {}, "payments": HOOKS}}, f)
        self.node.key = create_key(self.home, "torture", "admin")
        self.node.start()
        self.settlement, self.bank = 7001, 7002
        payers = [8000 + i for i in range(customers)]
        r = self.call("POST", "/v1/accounts", [
            {"id": str(self.settlement), "ledger": LEDGER, "code": 1,
             "flags": ["debits_must_not_exceed_credits"]},
            {"id": str(self.bank), "ledger": LEDGER, "code": 1, "flags": []}] + [
            {"id": str(p), "ledger": LEDGER, "code": 1,
             "flags": ["debits_must_not_exceed_credits"]} for p in payers])
        check(all(x["result"] == "ok" for x in r.json()["results"]), r.text)
        r = self.call("POST", "/v1/transfers", [
            {"id": str(9000 + i), "debit_account_id": str(self.bank),
             "credit_account_id": str(p), "amount": "100000000", "ledger": LEDGER,
             "code": 1, "flags": []} for i, p in enumerate(payers)])
        check(all(x["result"] == "ok" for x in r.json()["results"]), r.text)
        r = self.call("POST", "/v1/merchants", {
            "name": "Torture Shop", "settlement_account_id": str(self.settlement),
            "ledger": LEDGER, "currency": "USD"})
        check(r.status_code == 200, r.text)
        self.merchant = r.json()["id"]
        self.customers = []
        for i, p in enumerate(payers):
            auth = Authenticator(ES256 if i % 2 == 0 else EDDSA, "none")
            user = self.node.user("torture%d" % i)
            check(self.node.register(user, auth).status_code == 200, "register")
            devices = []
            for d in range(DEVICES):
                r = self.call("POST", "/v1/devices", {"user_id": user, "account_id": str(p),
                                                      "ledger": LEDGER, "name": "phone%d" % d})
                check(r.status_code == 200, r.text)
                devices.append({"secret": r.json()["secret"], "number": r.json()["number"],
                                "used": set()})
            self.customers.append({"user": user, "auth": auth, "payer": p, "devices": devices})
        r = self.call("POST", "/v1/webhooks", {"url": receiver.url, "events": ["*"]})
        check(r.status_code == 200, r.text)
        receiver.reset(r.json()["secret"])
        self.orders = {}  # idempotency key -> order record (see Client.new_order)
        self.refunds = {}  # idempotency key -> refund record
        self.lock = threading.Lock()

    def call(self, method, path, body=None, idem=None):
        import requests
        h = {"Authorization": "Bearer " + self.node.key}
        if idem is not None:
            h["Idempotency-Key"] = idem
        return requests.request(method, "http://127.0.0.1:%d%s" % (self.node.port, path),
                                json=body, headers=h, timeout=20)


class Client:
    """One customer's thread: its own rng, its orders."""

    def __init__(self, s, index, rng, tag):
        self.s, self.i, self.rng, self.tag, self.n = s, index, rng, tag, 0
        self.c = s.customers[index]

    def key(self, kind):
        self.n += 1
        return "%s-%s-c%d-%d" % (kind, self.tag, self.i, self.n)

    def new_order(self):
        k = self.key("o")
        o = {"key": k, "customer": self.i, "id": None, "intents": [], "doubt": True,
             "body": {"merchant_id": self.s.merchant, "amount": str(self.rng.randint(100, 5000)),
                      "ledger": LEDGER, "currency": "USD"}}
        with self.s.lock:
            self.s.orders[k] = o
        send_order(self.s, o)
        return o

    def pay(self, o):
        r = self.s.call("POST", "/v1/payment-intents", {
            "user_id": self.c["user"], "debit_account_id": str(self.c["payer"]),
            "credit_account_id": str(self.s.settlement), "amount": o["body"]["amount"],
            "ledger": LEDGER, "currency": "USD", "payee_name": "Torture Shop",
            "order_id": o["id"], "expires_in_s": 3600})
        check(r.status_code == 200, "intent: " + r.text)
        o["intents"].append(r.json()["id"])
        confirm(self.s, self.c, r.json()["id"])

    def refund(self, o):
        k = self.key("r")
        f = {"key": k, "order": o["key"], "id": None, "status": None, "doubt": True,
             "body": {"order_id": o["id"], "amount": str(self.rng.randint(1, 1500))}}
        with self.s.lock:
            self.s.refunds[k] = f
        send_refund(self.s, f)

    def collect(self):
        """A shop's order collected with one of the customer's codes."""
        step = int(time.time()) // 30
        free = [d for d in self.c["devices"] if step not in d["used"]]
        if not free:
            return self.new_order()
        d = self.rng.choice(free)
        d["used"].add(step)
        o = self.new_order()
        o["collect"] = {"key": self.key("c"), "doubt": True,
                        "body": {"payment_code": payment_code(d, step * 30)}}
        send_collect(self.s, o)

    def step(self):
        mine = [o for o in list(self.s.orders.values())
                if o["customer"] == self.i and o["id"] is not None]
        unpaid = [o for o in mine if not o["intents"] and "collect" not in o]
        paid = [o for o in mine if o["intents"] or o.get("paid_by_code")]
        done = [f for f in list(self.s.refunds.values()) if not f["doubt"]]
        x = self.rng.random()
        if x < 0.25 or not mine:
            self.new_order()
        elif x < 0.4:
            self.collect()
        elif x < 0.7 and unpaid:
            self.pay(self.rng.choice(unpaid))
        elif x < 0.92 and paid:
            self.refund(self.rng.choice(paid))
        elif done:
            send_refund(self.s, self.rng.choice(done))  # a retry: same key, same body

    def run(self, stop):
        import requests
        try:
            while not stop.is_set():
                self.step()
        except requests.RequestException:
            pass  # the node died under it: what was in flight is in doubt


def send_order(s, o):
    r = s.call("POST", "/v1/orders", o["body"], idem=o["key"])
    check(r.status_code == 200, "order %s: %s" % (o["key"], r.text))
    check(o["id"] in (None, r.json()["id"]), "a replay of %s answered another order" % o["key"])
    o["id"], o["doubt"] = r.json()["id"], False


def send_refund(s, f):
    r = s.call("POST", "/v1/refunds", f["body"], idem=f["key"])
    check(r.status_code in (200, 202, 422), "refund %s: %s" % (f["key"], r.text))
    if r.status_code == 422:
        code = r.json()["error"]["code"]
        check(code == "refund_exceeds_payment", "refund %s: %s" % (f["key"], r.text))
        check(f["id"] is None, "refund %s answered %s then refused" % (f["key"], f["id"]))
        f["status"] = "refused"
    else:
        rid = r.json()["id"]
        check(f["id"] in (None, rid), "a replay of %s answered another refund" % f["key"])
        f["id"], f["status"] = rid, r.json()["status"]
    f["doubt"] = False


def payment_code(device, t):
    """docs/payments.md, "The code"."""
    mac = hmac.new(bytes.fromhex(device["secret"]), (t // 30).to_bytes(8, "big"),
                   hashlib.sha256).digest()
    o = mac[31] & 0x0F
    otp = (int.from_bytes(mac[o:o + 8], "big") & 0x7FFFFFFFFFFFFFFF) % 10 ** 10
    return "28%06d%010d" % (device["number"], otp)


def send_collect(s, o):
    """POST /v1/orders/{id}/collect: paid, or (a retry after a crash) the
    order already paid, or the code refused with the order unpaid."""
    c = o["collect"]
    r = s.call("POST", "/v1/orders/%s/collect" % o["id"], c["body"], idem=c["key"])
    body = r.json()
    if r.status_code == 200:
        check(body["status"] == "paid" and body["paid_by"] == "payment_code", r.text)
        o["paid_by_code"] = True
    elif r.status_code == 409 and body["error"]["code"] == "order_not_open":
        check(body["error"].get("status") in ("paid", "partially_refunded", "refunded"), r.text)
        o["paid_by_code"] = True
    else:
        check(r.status_code in (409, 422) and body["error"]["code"] in (
            "payment_code_expired", "payment_code_used", "payment_code_invalid"),
            "collect %s: %s" % (c["key"], r.text))
        o["paid_by_code"] = False  # the check below says whether money moved anyway
    c["doubt"] = False


def confirm(s, c, intent_id):
    r = s.call("POST", "/v1/payment-intents/%s/challenge" % intent_id, {})
    check(r.status_code == 200, "challenge: " + r.text)
    cred = c["auth"].get(r.json()["publicKey"], s.node.origin)
    r = s.call("POST", "/v1/payment-intents/%s/confirm" % intent_id, {"credential": cred})
    check(r.status_code == 200 and r.json()["status"] == "succeeded", "confirm: " + r.text)


def recover(s):
    """After a restart: what a client does with what was in doubt.  Returns
    how many orders, confirms, refunds and collects were in doubt."""
    n = [0, 0, 0, 0]
    for o in list(s.orders.values()):
        if o["doubt"]:
            n[0] += 1
            send_order(s, o)
    for o in list(s.orders.values()):
        for iid in o["intents"]:
            st = s.call("GET", "/v1/payment-intents/" + iid).json()["status"]
            check(st in ("succeeded", "requires_confirmation"), "intent %s is %s" % (iid, st))
            if st == "requires_confirmation":
                n[1] += 1
                confirm(s, s.customers[o["customer"]], iid)
    for f in list(s.refunds.values()):
        if f["doubt"]:
            n[2] += 1
            send_refund(s, f)
    for o in list(s.orders.values()):
        if "collect" in o and o["collect"]["doubt"]:
            n[3] += 1
            send_collect(s, o)
    return n


def all_orders(s):
    out, cursor = {}, None
    while True:
        r = s.call("GET", "/v1/orders?limit=500" + ("&cursor=" + cursor if cursor else ""))
        check(r.status_code == 200, r.text)
        for o in r.json()["data"]:
            out[o["id"]] = o
        cursor = r.json()["next_cursor"]
        if not cursor:
            return out


def settled(s, deadline_s=20):
    """The orders once no refund is pending (the module settles them)."""
    deadline = time.time() + deadline_s
    while True:
        got = all_orders(s)
        if all(o.get("amount_refunding", "0") == "0" for o in got.values()):
            return got
        check(time.time() < deadline, "refunds still pending after %d s" % deadline_s)
        time.sleep(0.1)


def check_money(s, got):
    model = {o["id"]: o for o in s.orders.values()}
    check(set(got) == set(model), "orders listed %d, created %d: extra %s, missing %s" % (
        len(got), len(model), sorted(set(got) - set(model))[:3], sorted(set(model) - set(got))[:3]))
    answered = {f["id"]: f for f in s.refunds.values() if f["id"] is not None}
    check(len(answered) == len([f for f in s.refunds.values() if f["id"] is not None]),
          "two refund keys answered the same refund")
    paid_total = refunded_total = 0
    for oid, g in got.items():
        o = model[oid]
        if o["intents"]:
            check(g["status"] in ("paid", "partially_refunded", "refunded"),
                  "order %s with a succeeded intent reads %s" % (oid, g["status"]))
            check(g["payment_intent_id"] in o["intents"], "order %s paid by %s" % (
                oid, g["payment_intent_id"]))
        elif "collect" in o and g["status"] != "open":
            check(g.get("paid_by") == "payment_code", "collected order %s: %s" % (oid, g))
            o["paid_by_code"] = True
        else:
            check(g["status"] == "open" and not o.get("paid_by_code"),
                  "order %s never paid reads %s" % (oid, g["status"]))
            continue
        paid_total += int(g["amount"])
        rs = s.call("GET", "/v1/refunds?limit=500&order_id=" + oid).json()["data"]
        ok = [r for r in rs if r["status"] == "succeeded"]
        total = sum(int(r["amount"]) for r in ok)
        check(total == int(g["amount_refunded"]) <= int(g["amount"]),
              "order %s: refunds %d, amount_refunded %s, amount %s" % (
                  oid, total, g["amount_refunded"], g["amount"]))
        for r in ok:
            check(r["id"] in answered, "refund %s answers no request key" % r["id"])
        refunded_total += total
    acct = s.call("GET", "/v1/accounts/%d" % s.settlement).json()
    check(int(acct["credits_posted"]) == paid_total,
          "settlement credited %s, paid orders %d" % (acct["credits_posted"], paid_total))
    check(int(acct["debits_posted"]) == refunded_total,
          "settlement debited %s, refunds %d" % (acct["debits_posted"], refunded_total))
    check(s.call("GET", "/v1/audit").json()["invariant_ok"] is True, "audit invariant")
    return got


def check_events(s, receiver, got, deadline_s=20):
    paid = {oid for oid, g in got.items() if g["status"] != "open"}
    by_intent = {oid for oid in paid if got[oid].get("payment_intent_id")}
    refunds = {f["id"] for f in s.refunds.values() if f["status"] in ("succeeded",)}
    refunds |= {r for r in refunds_succeeded(s, got)}
    want = {"order.created": set(got), "order.paid": paid, "payment_intent.succeeded": by_intent,
            "refund.succeeded": refunds}
    deadline = time.time() + deadline_s
    while True:
        seen = receiver.by_type()
        missing = {t: ids - set(seen.get(t, {})) for t, ids in want.items()}
        if not any(missing.values()):
            break
        check(time.time() < deadline, "webhook events lost: %s" % {
            t: sorted(m)[:3] for t, m in missing.items() if m})
        time.sleep(0.1)
    check(not receiver.bad, "bad signatures: %s" % receiver.bad[:2])
    for t, objs in seen.items():
        for key, ids in objs.items():
            check(len(ids) == 1, "%s for %s made %d times: %s" % (t, key, len(ids), ids))
        extra = set(objs) - want.get(t, set(objs))
        check(not extra, "%s for objects never changed: %s" % (t, sorted(extra)[:3]))


def refunds_succeeded(s, got):
    out = set()
    for oid, g in got.items():
        if g["status"] in ("partially_refunded", "refunded"):
            rs = s.call("GET", "/v1/refunds?limit=500&order_id=" + oid).json()["data"]
            out |= {r["id"] for r in rs if r["status"] == "succeeded"}
    return out


def verify_dir(home, quipu, allow_torn=True):
    import subprocess
    v = subprocess.run([quipu, "verify", "--data", home], capture_output=True, text=True,
                       timeout=120)
    out = v.stdout + v.stderr
    check(v.returncode == 0 or (allow_torn and re.search(r"\btorn\b", out)),
          "quipu verify: exit %d: %s" % (v.returncode, out[-400:]))


def early_kill(home, quipu, delay_s):
    """Starts the node on home and SIGKILLs it after delay_s, while it opens
    its stores, recovers and replays."""
    import subprocess
    with open(os.path.join(home, "node.log"), "a") as log:
        proc = subprocess.Popen([quipu, "node", "--home", home], stdout=log,
                                stderr=subprocess.STDOUT)
        time.sleep(delay_s)
        proc.kill()
        proc.wait()


def round_(s, receiver, rng, args, tag):
    stop = threading.Event()
    clients = [Client(s, i, random.Random(rng.getrandbits(64)), tag)
               for i in range(len(s.customers))]
    threads = [threading.Thread(target=c.run, args=(stop,)) for c in clients]
    for t in threads:
        t.start()
    time.sleep(rng.uniform(0.05, args.load_ms_max / 1000.0))
    s.node.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=60)
    verify_dir(s.home, args.quipu)
    if rng.random() < 0.1:  # one round in ten: killed again while it opens and recovers
        early_kill(s.home, args.quipu, rng.uniform(0.0, 0.04))
        verify_dir(s.home, args.quipu)
    s.node.start()
    doubt = recover(s)
    got = settled(s)
    check_money(s, got)
    check_events(s, receiver, got)
    return len(got), doubt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--quipu", required=True)
    ap.add_argument("--load-ms-max", type=int, default=1500)
    ap.add_argument("--customers", type=int, default=4)
    ap.add_argument("--rounds-per-dir", type=int, default=10)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    args.quipu = os.path.abspath(args.quipu)
    os.environ["QUIPU_BIN"] = args.quipu
    sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    rng = random.Random(seed)
    base = tempfile.mkdtemp(prefix="quipu-paytorture-")
    receiver = Receiver()
    print("payments torture: %d kills, seed %d, customers %d, load <= %d ms" % (
        args.kills, seed, args.customers, args.load_ms_max), flush=True)
    t0, s, stats = time.time(), None, {"kills": 0, "orders": 0, "refunds": 0, "dirs": 0}
    try:
        for k in range(args.kills):
            if s is None:
                s = Session(base, args.customers, receiver)
                stats["dirs"] += 1
            n, doubt = round_(s, receiver, rng, args, "k%d" % k)
            stats["kills"] += 1
            for name, d in zip(("doubt_orders", "doubt_confirms", "doubt_refunds",
                                "doubt_collects"), doubt):
                stats[name] = stats.get(name, 0) + d
            print("kill %d: ok (%d orders, %d refund keys; in doubt and resent: %d orders, "
                  "%d confirms, %d refunds, %d collects)" % (k + 1, n, len(s.refunds), *doubt),
                  flush=True)
            if (k + 1) % args.rounds_per_dir == 0 or k + 1 == args.kills:
                s.node.stop()  # a clean stop: verify must pass outright
                verify_dir(s.home, args.quipu, allow_torn=False)
                stats["orders"] += len(s.orders)
                stats["collected"] = stats.get("collected", 0) + sum(
                    1 for o in s.orders.values() if o.get("paid_by_code"))
                stats["refunds"] += len(s.refunds)
                shutil.rmtree(s.home, ignore_errors=True)
                s = None
    except Failed as e:
        print("FAILED at kill %d: %s" % (stats["kills"] + 1, e), flush=True)
        if s is not None:
            if s.node.proc.poll() is None:
                s.node.kill9()
            print("kept %s; replay: %s --kills %d --seed %d --quipu %s" % (
                s.home, sys.argv[0], args.kills, seed, args.quipu), flush=True)
        return 1
    stats.update(seed=seed, seconds=round(time.time() - t0, 1))
    print("payments torture: every check held: %s" % json.dumps(stats), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(stats, f)
    shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
