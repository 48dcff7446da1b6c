"""Operators sign in to the console with a passkey (docs/auth.md,
"Operators"), against the real binary with the software authenticator of
webauthn_util.py: an admin key enrolls a passkey for a named operator, the
operator signs in without a key and gets a short-lived key of scope admin
only, and every refusal (a non-admin key, a bad body, a replay, an expired
key, a wallet customer's passkey, a deleted operator) changes nothing.
"""
import json
import os
import time

import requests

from conftest import create_key
from webauthn_util import Authenticator, Node, b64u


class OpNode(Node):
    """ledger, auth and wallet (for a customer's passkey), an admin key."""

    def __init__(self, home, auth=None):
        super().__init__(home, auth)
        with open(os.path.join(home, "node.json"), "w") as f:
            json.dump({"listen": "127.0.0.1:0", "modules": {
                "ledger": {}, "auth": self.auth, "payments": {}, "wallet": {}}}, f)
        self.admin = create_key(home, "admin", "admin")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def public(self, path, body):
        return requests.post(self.url(path), json=body, timeout=30)

    def enroll(self, name, auth, key=None, **tamper):
        r = self.call("POST", "/v1/operators/passkeys/options", {"name": name},
                      key=key or self.admin)
        assert r.status_code == 200, r.text
        o = r.json()
        cred = auth.create(o["publicKey"], self.origin, **tamper)
        return o, self.call("POST", "/v1/operators/passkeys/verify",
                            {"ceremony_id": o["ceremony_id"], "credential": cred},
                            key=key or self.admin)

    def login_options(self, name=None):
        r = self.public("/v1/operators/login/options", {} if name is None else {"name": name})
        assert r.status_code == 200, r.text
        return r.json()

    def login(self, auth, name=None, **tamper):
        o = self.login_options(name)
        cred = auth.get(o["publicKey"], self.origin, **tamper)
        return o, cred, self.public("/v1/operators/login/verify",
                                    {"ceremony_id": o["ceremony_id"], "credential": cred})

    def metric(self, result):
        text = requests.get(self.url("/metrics"), timeout=30).text
        for line in text.splitlines():
            if line.startswith('quipu_auth_operator_signins_total{result="%s"}' % result):
                return int(line.split()[-1])
        raise AssertionError("no operator sign-in metric")

    def key_lines(self):
        with open(os.path.join(self.home, "keys", "api_keys")) as f:
            return [l for l in f.read().splitlines() if l and not l.startswith("#")]


def started(tmp_path, **auth):
    return OpNode(str(tmp_path / "node"), auth or None).start()


def wait_status(node, key, path, status, timeout=10):
    """Polls path with key until it answers status (the key file is
    re-read within a fraction of a second)."""
    deadline = time.time() + timeout
    while True:
        r = node.call("GET", path, key=key)
        if r.status_code == status or time.time() > deadline:
            return r
        time.sleep(0.05)


def test_enroll_login_and_the_console_key(tmp_path):
    node = started(tmp_path)
    try:
        auth = Authenticator()
        o, r = node.enroll("ops", auth)
        assert r.status_code == 200, r.text
        body = r.json()
        sel = o["publicKey"]["authenticatorSelection"]
        assert sel["userVerification"] == "required" and sel["residentKey"] == "preferred"
        assert o["publicKey"]["excludeCredentials"] == []
        assert body["operator"] == "ops" and body["created"]
        # A second enrollment excludes the first passkey.
        o2 = node.call("POST", "/v1/operators/passkeys/options", {"name": "ops"},
                       key=node.admin).json()
        assert [d["id"] for d in o2["publicKey"]["excludeCredentials"]] == [body["credential_id"]]
        assert o2["publicKey"]["user"]["id"] == o["publicKey"]["user"]["id"]

        ok_before = node.metric("ok")
        lo, _, r = node.login(auth, name="ops")
        assert r.status_code == 200, r.text
        assert [d["id"] for d in lo["publicKey"]["allowCredentials"]] == [body["credential_id"]]
        assert lo["publicKey"]["userVerification"] == "required"
        session = r.json()
        assert session["operator"] == "ops" and session["key"].startswith("qpk_")
        assert node.metric("ok") == ok_before + 1
        # The minted key reads the audit and has admin scope only.
        r = node.call("GET", "/v1/audit", key=session["key"])
        assert r.status_code == 200, r.text
        line = [l for l in node.key_lines() if " console-ops-1 " in l]
        assert len(line) == 1 and line[0].split()[2] == "admin", line
        expires = int([t for t in line[0].split() if t.startswith("expires=")][0][8:])
        assert 28790 <= expires - time.time() <= 28810
        # Listed, with the enrolling key and the last use.
        ops = node.call("GET", "/v1/operators", key=session["key"]).json()
        assert ops["next_cursor"] is None
        [op] = ops["data"]
        assert op["name"] == "ops" and op["sessions"] == 1
        [pk] = op["passkeys"]
        assert pk["id"] == body["credential_id"] and pk["last_used"] is not None
        admin_id = [l for l in node.key_lines() if " admin " in l][0].split()[0]
        assert pk["created_by"] == admin_id
        # Without a name: a discoverable credential.
        lo, _, r = node.login(auth)
        assert r.status_code == 200, r.text
        assert lo["publicKey"]["allowCredentials"] == []
        assert r.json()["operator"] == "ops"
        # Sign out revokes the console key, not an ordinary admin key.
        r = node.call("POST", "/v1/operators/logout", {}, key=session["key"])
        assert r.status_code == 200 and r.json() == {"revoked": True}, r.text
        assert wait_status(node, session["key"], "/v1/audit", 401).status_code == 401
        r = node.call("POST", "/v1/operators/logout", {}, key=node.admin)
        assert r.status_code == 200 and r.json() == {"revoked": False}, r.text
        assert node.call("GET", "/v1/audit", key=node.admin).status_code == 200
    finally:
        node.stop()


def test_non_admin_and_bad_bodies_refused(tmp_path):
    node = started(tmp_path)
    try:
        auth = Authenticator()
        r = node.call("POST", "/v1/operators/passkeys/options", {"name": "ops"})  # auth/ledger key
        assert r.status_code == 403, r.text
        assert node.call("GET", "/v1/operators").status_code == 403
        assert node.call("DELETE", "/v1/operators/ops").status_code == 403
        for body, path in [({}, "name"), ({"name": "Ops!"}, "name"), ({"name": 7}, "name"),
                           ({"name": "x" * 49}, "name"), ({"name": "a", "extra": 1}, "extra")]:
            r = node.call("POST", "/v1/operators/passkeys/options", body, key=node.admin)
            assert r.status_code == 400, (body, r.text)
            assert r.json()["error"]["path"] == path, (body, r.text)
        o = node.call("POST", "/v1/operators/passkeys/options", {"name": "ops"},
                      key=node.admin).json()
        cred = auth.create(o["publicKey"], node.origin)
        for body, path in [({"credential": cred}, "ceremony_id"),
                           ({"ceremony_id": o["ceremony_id"]}, "credential"),
                           ({"ceremony_id": "zz", "credential": cred}, "ceremony_id")]:
            r = node.call("POST", "/v1/operators/passkeys/verify", body, key=node.admin)
            assert r.status_code in (400, 404), (body, r.text)
            assert r.json()["error"]["path"] == path, (body, r.text)
        # A wallet registration ceremony does not complete an operator's.
        assert node.call("GET", "/v1/operators", key=node.admin).json()["data"] == []
        r = node.public("/v1/operators/login/options", {"name": "BAD NAME"})
        assert r.status_code == 400 and r.json()["error"]["path"] == "name"
        r = node.public("/v1/operators/login/verify", {"ceremony_id": "00" * 16})
        assert r.status_code == 400 and r.json()["error"]["path"] == "credential", r.text
        # A registration response is the wrong type at login.
        lo = node.login_options()
        r = node.public("/v1/operators/login/verify", {"ceremony_id": lo["ceremony_id"],
                                                       "credential": cred})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["path"].startswith("credential"), r.text
        r = node.call("GET", "/v1/operators?limit=0", key=node.admin)
        assert r.status_code == 400 and r.json()["error"]["path"] == "limit"
        assert r.json()["error"]["code"] == "invalid_parameter"
        for q in ("limit", "cursor", "limit=", "limit=1e3", "cursor=Bad%20Name"):  # "?limit": no value
            r = node.call("GET", "/v1/operators?" + q, key=node.admin)
            assert r.status_code == 400, (q, r.text)
            assert r.json()["error"]["path"] == q.split("=")[0], r.text
        r = node.call("GET", "/v1/operators?sort=name", key=node.admin)
        assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_parameter"
        assert not any(l.split()[1].startswith("console-") for l in node.key_lines())
    finally:
        node.stop()


def test_refusals_learn_nothing_and_change_nothing(tmp_path):
    node = started(tmp_path)
    try:
        auth, stranger = Authenticator(), Authenticator()
        assert node.enroll("ops", auth)[1].status_code == 200
        refused = node.metric("refused")
        keys_before = node.key_lines()
        # Unknown operator, an unknown passkey, a bad signature, no UV: one 401.
        answers = []
        _, _, r = node.login(stranger, name="nobody")
        answers.append(r)
        _, _, r = node.login(stranger)
        answers.append(r)
        _, _, r = node.login(auth, name="ops", bad_signature=True)
        answers.append(r)
        _, _, r = node.login(auth, name="ops", uv=False)
        answers.append(r)
        _, _, r = node.login(auth, name="someone-else")
        answers.append(r)
        for r in answers:
            assert r.status_code == 401, r.text
            assert r.json()["error"]["code"] == "passkey_refused", r.text
        assert len({r.text for r in answers}) == 1
        # The options do not tell an unknown name from an operator with one passkey.
        known, unknown = node.login_options("ops"), node.login_options("nobody")
        assert len(known["publicKey"]["allowCredentials"]) == 1
        assert len(unknown["publicKey"]["allowCredentials"]) == 1
        assert set(unknown["publicKey"]) == set(known["publicKey"])
        again = node.login_options("nobody")["publicKey"]["allowCredentials"]
        assert again == unknown["publicKey"]["allowCredentials"]
        assert again[0]["id"] != node.login_options("nobody2")["publicKey"]["allowCredentials"][0]["id"]
        # A replayed assertion: its ceremony was used; with a new ceremony the challenge differs.
        o, cred, r = node.login(auth, name="ops")
        assert r.status_code == 200, r.text
        r = node.public("/v1/operators/login/verify", {"ceremony_id": o["ceremony_id"],
                                                       "credential": cred})
        assert r.status_code == 400 and r.json()["error"]["code"] == "challenge_used", r.text
        o2 = node.login_options("ops")
        r = node.public("/v1/operators/login/verify", {"ceremony_id": o2["ceremony_id"],
                                                       "credential": cred})
        assert r.status_code == 401, r.text
        assert node.metric("refused") == refused + len(answers) + 2
        assert len(node.key_lines()) == len(keys_before) + 1  # the one good sign-in
    finally:
        node.stop()


def test_wallet_customer_passkey_refused(tmp_path):
    node = started(tmp_path)
    try:
        s = requests.Session()
        customer = Authenticator()
        r = s.post(node.url("/v1/wallet/signup/options"),
                   json={"handle": "carol", "display_name": "Carol"}, timeout=30)
        assert r.status_code == 200, r.text
        o = r.json()
        cred = customer.create(o["publicKey"], node.origin)
        r = s.post(node.url("/v1/wallet/signup/verify"),
                   json={"signup_id": o["signup_id"], "credential": cred}, timeout=30)
        assert r.status_code == 200, r.text
        # The customer's passkey signs the customer in ...
        r = s.post(node.url("/v1/wallet/login/options"), json={"handle": "carol"}, timeout=30)
        lo = r.json()
        r = s.post(node.url("/v1/wallet/login/verify"), json={
            "login_id": lo["login_id"],
            "credential": customer.get(lo["publicKey"], node.origin)}, timeout=30)
        assert r.status_code == 200, r.text
        # ... never an operator, named or not.
        for name in (None, "carol"):
            _, _, r = node.login(customer, name=name)
            assert r.status_code == 401, r.text
        # And an operator's passkey never signs in a customer.
        op = Authenticator()
        assert node.enroll("carol", op)[1].status_code == 200
        r = s.post(node.url("/v1/wallet/login/options"), json={}, timeout=30)
        lo = r.json()
        r = s.post(node.url("/v1/wallet/login/verify"), json={
            "login_id": lo["login_id"], "credential": op.get(lo["publicKey"], node.origin)},
            timeout=30)
        assert r.status_code == 400 and r.json()["error"]["code"] == "credential_unknown", r.text
        # An operator's enrollment ceremony cannot be finished at the wallet's registration.
        o = node.call("POST", "/v1/operators/passkeys/options", {"name": "dave"},
                      key=node.admin).json()
        r = node.call("POST", "/v1/webauthn/register/verify", {
            "ceremony": o["ceremony_id"],
            "credential": Authenticator().create(o["publicKey"], node.origin)}, key=node.admin)
        assert r.status_code == 404, r.text
    finally:
        node.stop()


def test_expired_console_key_refused_and_pruned(tmp_path):
    node = started(tmp_path, operator_session_ttl_s=1)
    try:
        auth = Authenticator()
        assert node.enroll("ops", auth)[1].status_code == 200
        _, _, r = node.login(auth, name="ops")
        assert r.status_code == 200, r.text
        first = r.json()
        r = wait_status(node, first["key"], "/v1/audit", 401)
        assert r.status_code == 401 and r.json()["error"]["code"] == "key_expired", r.text
        assert sum(" console-ops-" in l for l in node.key_lines()) == 1
        # The next sign-in drops the expired key from the file.
        _, _, r = node.login(auth, name="ops")
        assert r.status_code == 200, r.text
        names = [l.split()[1] for l in node.key_lines()]
        assert "console-ops-1" not in names and "console-ops-2" in names, names
    finally:
        node.stop()


def test_delete_revokes_and_restart_keeps_operators(tmp_path):
    node = started(tmp_path)
    try:
        ana, bob = Authenticator(), Authenticator()
        assert node.enroll("ana", ana)[1].status_code == 200
        assert node.enroll("bob.ops", bob)[1].status_code == 200
        session = node.login(ana, name="ana")[2].json()
        node.stop()
        node.start()
        r = node.call("GET", "/v1/operators?limit=1", key=node.admin).json()
        assert [o["name"] for o in r["data"]] == ["ana"] and r["next_cursor"] == "ana"
        r = node.call("GET", "/v1/operators?cursor=ana", key=node.admin).json()
        assert [o["name"] for o in r["data"]] == ["bob.ops"] and r["next_cursor"] is None
        assert node.login(bob, name="bob.ops")[2].status_code == 200  # after the restart
        assert node.call("GET", "/v1/audit", key=session["key"]).status_code == 200
        r = node.call("DELETE", "/v1/operators/ana", key=node.admin)
        assert r.status_code == 200, r.text
        assert r.json()["passkeys_removed"] == 1 and r.json()["sessions_revoked"] == 1
        assert wait_status(node, session["key"], "/v1/audit", 401).status_code == 401
        assert node.login(ana, name="ana")[2].status_code == 401
        assert node.login(ana)[2].status_code == 401
        r = node.call("DELETE", "/v1/operators/ana", key=node.admin)
        assert r.status_code == 404 and r.json()["error"]["code"] == "operator_not_found"
        names = [o["name"] for o in node.call("GET", "/v1/operators", key=node.admin).json()["data"]]
        assert names == ["bob.ops"]
        # One passkey of a lost device removed; the other still signs in.
        spare = Authenticator()
        assert node.enroll("bob.ops", spare)[1].status_code == 200
        lost = "/v1/operators/bob.ops/passkeys/" + b64u(bob.credential_id)
        assert node.call("DELETE", lost).status_code == 403  # not an admin key
        assert node.call("DELETE", "/v1/operators/ana/passkeys/" + b64u(bob.credential_id),
                         key=node.admin).status_code == 404
        r = node.call("DELETE", lost, key=node.admin)
        assert r.status_code == 200 and r.json()["deleted"] is True, r.text
        r = node.call("DELETE", lost, key=node.admin)
        assert r.status_code == 404 and r.json()["error"]["code"] == "credential_not_found"
        assert node.login(bob, name="bob.ops")[2].status_code == 401
        assert node.login(spare, name="bob.ops")[2].status_code == 200
        [op] = node.call("GET", "/v1/operators", key=node.admin).json()["data"]
        assert [p["id"] for p in op["passkeys"]] == [b64u(spare.credential_id)]
    finally:
        node.stop()
