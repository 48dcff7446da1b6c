#!/usr/bin/env python3
"""`make demo`, second half: the wallet, the shop and the console get some life.

Run by scripts/demo.sh against the node it started (ledger, auth, risk,
payments, wallet and web modules).  Everything goes through the node's
public HTTP API, as a bank's own systems and its customers' browsers would:

  - a merchant, "Demo Coffee", with its settlement account and a merchant
    API key (the shop page uses it);
  - two wallet users, alice and bob, signed up with passkeys (a software
    authenticator stands in for their phones: tests/e2e/webauthn_util.py);
  - the bank deposits 500.00 to alice; alice sends bob 25.00, confirmed with
    her passkey; alice scans a coffee order's QR and pays it with her passkey;
    bob shows a pay code that the shop collects; the shop refunds part of
    alice's coffee.

Ids are fresh each run (handles get a suffix when taken), so a second run
adds a second story beside the first.  Prints one line per step and, last,
the merchant key and id on a line of their own (`MERCHANT_KEY qpk_... <id>`),
which demo.sh puts in the shop's URL.
"""
import json
import os
import sys
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from webauthn_util import Authenticator  # noqa: E402

LEDGER, CURRENCY = 840, "USD"


class Http:
    """A tiny client: a cookie jar (for the wallet) and an optional key."""

    def __init__(self, base, key=None):
        self.base, self.key, self.cookie = base, key, None

    def call(self, method, path, body=None, key=None, ok=(200,)):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if key or self.key:
            req.add_header("Authorization", "Bearer " + (key or self.key))
        if self.cookie:
            req.add_header("Cookie", self.cookie)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, text, headers = r.status, r.read().decode(), r.headers
        except urllib.error.HTTPError as e:
            status, text, headers = e.code, e.read().decode(), e.headers
        cookie = headers.get("Set-Cookie")
        if cookie and cookie.startswith("quipu_session="):
            self.cookie = cookie.split(";", 1)[0]
        if status not in ok:
            raise SystemExit("demo: %s %s answered %d: %s" % (method, path, status, text))
        return json.loads(text) if text else {}


class Customer:
    """A wallet user in a browser: a cookie and a passkey."""

    def __init__(self, base, origin, handle):
        self.http, self.origin, self.handle = Http(base), origin, handle
        self.passkey = Authenticator()

    def signup(self, display):
        for n in range(100):
            handle = self.handle if n == 0 else "%s%d" % (self.handle, n + 1)
            o = self.http.call("POST", "/v1/wallet/signup/options",
                               {"handle": handle, "display_name": display}, ok=(200, 409))
            if "signup_id" in o:
                break
        self.handle = handle
        cred = self.passkey.create(o["publicKey"], self.origin)
        me = self.http.call("POST", "/v1/wallet/signup/verify",
                            {"signup_id": o["signup_id"], "credential": cred})
        self.account = me["accounts"][0]["id"]
        return me

    def confirm(self, started):
        cred = self.passkey.get(started["publicKey"], self.origin)
        return self.http.call("POST", "/v1/wallet/intents/%s/confirm" % started["intent"]["id"],
                              {"credential": cred})

    def balance(self):
        return self.http.call("GET", "/v1/wallet/me")["accounts"][0]["balance"]


def major(minor):
    return "%d.%02d" % divmod(int(minor), 100)


def main():
    base, admin = sys.argv[1], sys.argv[2]
    origin = base.replace("127.0.0.1", "localhost")
    bank = Http(base, admin)

    # The merchant's settlement account, the merchant and its key.
    acct = str(int.from_bytes(os.urandom(7), "big") | 1 << 60)
    bank.call("POST", "/v1/accounts", [{"id": acct, "ledger": LEDGER, "code": 3,
                                        "flags": ["history"]}])
    m = bank.call("POST", "/v1/merchants", {"name": "Demo Coffee", "settlement_account_id": acct,
                                            "ledger": LEDGER, "currency": CURRENCY})
    mkey = bank.call("POST", "/v1/merchants/%s/keys" % m["id"], {})["key"]
    shop = Http(base, mkey)
    print("  merchant   Demo Coffee %s (settlement account %s)" % (m["id"], acct))

    alice, bob = Customer(base, origin, "alice"), Customer(base, origin, "bob")
    alice.signup("Alice")
    bob.signup("Bob")
    print("  customers  %s and %s signed up with passkeys" % (alice.handle, bob.handle))

    bank.call("POST", "/v1/wallet/users/%s/deposit" % alice.handle, {"amount": "50000"})
    print("  deposit    the bank pays %s 500.00" % alice.handle)

    sent = alice.http.call("POST", "/v1/wallet/transfers", {"to": bob.handle, "amount": "2500"})
    done = alice.confirm(sent)
    print("  transfer   %s -> %s 25.00, passkey-confirmed: %s" % (alice.handle, bob.handle,
                                                                  done["status"]))

    order = shop.call("POST", "/v1/orders", {"merchant_id": m["id"], "amount": "450",
                                             "ledger": LEDGER, "currency": CURRENCY,
                                             "description": "Flat white",
                                             "reference": "demo-1", "expires_in_s": 900})
    seen = alice.http.call("POST", "/v1/wallet/scan", {"payload": order["qr"]})
    paid = alice.confirm(alice.http.call("POST", "/v1/wallet/orders/%s/pay" % seen["id"], {}))
    print("  scan+pay   %s pays %s %s for a flat white: %s" % (
        alice.handle, seen["merchant_name"], major(seen["amount"]), paid["status"]))

    code = bob.http.call("POST", "/v1/wallet/paycode/unlock", {})
    code = bob.http.call("POST", "/v1/wallet/paycode",
                         {"credential": bob.passkey.get(code["publicKey"], origin)})
    order2 = shop.call("POST", "/v1/orders", {"merchant_id": m["id"], "amount": "380",
                                              "ledger": LEDGER, "currency": CURRENCY,
                                              "description": "Espresso",
                                              "reference": "demo-2", "expires_in_s": 900})
    got = shop.call("POST", "/v1/orders/%s/collect" % order2["id"],
                    {"payment_code": code["code"]})
    print("  pay code   the shop collects %s's code for an espresso: %s" % (bob.handle,
                                                                          got.get("status")))

    shop.call("POST", "/v1/refunds", {"order_id": order["id"], "amount": "100",
                                      "reason": "requested_by_customer"})
    print("  refund     Demo Coffee refunds %s 1.00" % alice.handle)
    print("  balances   %s %s, %s %s" % (alice.handle, major(alice.balance()), bob.handle,
                                          major(bob.balance())))
    print("MERCHANT_KEY %s %s" % (mkey, m["id"]))


if __name__ == "__main__":
    main()
