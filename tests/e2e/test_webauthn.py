"""The auth module (docs/auth.md) against the real binary: `quipu node` with
the ledger and auth modules, a software authenticator (webauthn_util.py,
keys and signatures from the `cryptography` package) standing in for the
browser and the phone.  Users, registration ceremonies in WebAuthn's JSON
serialization, the loopback defaults (RP id localhost, origins
http://localhost:<port> and http://127.0.0.1:<port>), single-use expiring
challenges, each refusal with its code, scopes, and credentials that
survive kill -9.  (tests/e2e/test_auth.py is about API keys.)
"""
import json
import os
import re
import subprocess
import time

import pytest
import requests

from conftest import QUIPU, create_key
from webauthn_util import EDDSA, ES256, RS256, Authenticator, Node, b64u, unb64u


@pytest.fixture
def node(tmp_dir):
    n = Node(os.path.join(tmp_dir, "home")).start()
    yield n
    if n.proc.poll() is None:
        n.stop()


def code(r):
    return r.json()["error"]["code"]


def test_users_are_created_and_validated(node):
    r = node.call("POST", "/v1/users", {"handle": "alice", "display_name": "Alice A."})
    assert r.status_code == 200, r.text
    user = r.json()
    assert re.fullmatch(r"[0-9a-f]{32}", user["id"]) and user["handle"] == "alice"
    assert user["display_name"] == "Alice A." and user["created"].endswith("Z")
    r = node.call("POST", "/v1/users", {"handle": "alice", "display_name": "Other"})
    assert r.status_code == 409 and code(r) == "handle_taken"
    for body, want, path in [({"handle": "bob"}, "missing_field", "display_name"),
                             ({"handle": "bob", "display_name": "B", "x": 1}, "unknown_field", "x"),
                             ({"handle": "", "display_name": "B"}, "invalid_value", "handle"),
                             ({"handle": "b o b", "display_name": "B"}, "invalid_value", "handle"),
                             ({"handle": 7, "display_name": "B"}, "invalid_type", "handle")]:
        r = node.call("POST", "/v1/users", body)
        assert r.status_code == 400 and code(r) == want, (body, r.text)
        assert r.json()["error"]["path"] == path
    r = node.call("GET", "/v1/users/%s/credentials" % ("0" * 32))
    assert r.status_code == 404 and code(r) == "user_not_found"
    r = node.call("GET", "/v1/users/nope/credentials")
    assert r.status_code == 400


def test_creation_options_follow_the_loopback_defaults(node):
    uid = node.user()
    o = node.options(uid)
    pk = o["publicKey"]
    assert re.fullmatch(r"[0-9a-f]{32}", o["ceremony"]) and o["expires_at"].endswith("Z")
    assert pk["rp"] == {"id": "localhost", "name": "quipu"}
    assert unb64u(pk["user"]["id"]) == bytes.fromhex(uid)
    assert pk["user"]["name"] == "alice" and pk["user"]["displayName"] == "Alice"
    assert len(unb64u(pk["challenge"])) == 32
    assert [p["alg"] for p in pk["pubKeyCredParams"]] == [-7, -8, -257]
    assert all(p["type"] == "public-key" for p in pk["pubKeyCredParams"])
    assert pk["attestation"] == "none" and pk["excludeCredentials"] == []
    assert pk["authenticatorSelection"]["userVerification"] == "required"
    assert pk["timeout"] == 300000
    assert node.options(uid)["publicKey"]["challenge"] != pk["challenge"]
    r = node.call("POST", "/v1/webauthn/register/options", {"user_id": "f" * 32})
    assert r.status_code == 404 and code(r) == "user_not_found"


@pytest.mark.parametrize("alg,fmt", [(ES256, "none"), (EDDSA, "packed"), (RS256, "packed"),
                                     (ES256, "packed")])
def test_register_and_list(node, alg, fmt):
    uid = node.user()
    auth = Authenticator(alg, fmt)
    r = node.register(uid, auth)
    assert r.status_code == 200, r.text
    cred = r.json()
    assert cred["id"] == b64u(auth.credential_id) and cred["user_id"] == uid
    assert cred["fmt"] == fmt and cred["alg"] == alg
    assert cred["aaguid"] == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert cred["flags"] == {"up": True, "uv": True, "be": False, "bs": False}
    assert cred["sign_count"] == 0 and cred["last_used"] is None
    assert cred["transports"] == ["internal"] and cred["created"].endswith("Z")
    assert "public_key" not in cred
    listed = node.call("GET", "/v1/users/%s/credentials" % uid).json()
    assert listed["data"] == [cred] and listed["next_cursor"] is None
    excluded = node.options(uid)["publicKey"]["excludeCredentials"]
    assert excluded == [{"type": "public-key", "id": cred["id"], "transports": ["internal"]}]


def test_the_127_origin_is_allowed_too(node):
    r = node.register(node.user(), Authenticator(), origin="http://127.0.0.1:%d" % node.port)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("tamper,want", [
    ({"origin": "http://localhost:1"}, "origin_not_allowed"),
    ({"origin": "https://localhost"}, "origin_not_allowed"),
    ({"challenge": b64u(b"\x01" * 32)}, "challenge_mismatch"),
    ({"uv": False}, "user_verification_required"),
    ({"rp_id": "example.org"}, "rp_id_mismatch"),
    ({"client_type": "webauthn.get"}, "type_mismatch"),
    ({"bad_signature": True}, "signature_invalid"),
])
def test_registration_refusals(node, tamper, want):
    uid = node.user()
    r = node.register(uid, Authenticator(ES256, "packed"), **tamper)
    assert r.status_code == 400 and code(r) == want, r.text
    assert node.call("GET", "/v1/users/%s/credentials" % uid).json()["data"] == []


def test_challenges_are_single_use(node):
    uid = node.user()
    o = node.options(uid)
    auth = Authenticator()
    cred = auth.create(o["publicKey"], node.origin)
    body = {"ceremony": o["ceremony"], "credential": cred}
    assert node.call("POST", "/v1/webauthn/register/verify", body).status_code == 200
    r = node.call("POST", "/v1/webauthn/register/verify", body)
    assert r.status_code == 400 and code(r) == "challenge_used"
    # A failed attempt uses the challenge up too: no second guess.
    o = node.options(uid)
    bad = Authenticator().create(o["publicKey"], "http://evil.example")
    r = node.call("POST", "/v1/webauthn/register/verify", {"ceremony": o["ceremony"],
                                                           "credential": bad})
    assert code(r) == "origin_not_allowed"
    good = Authenticator().create(o["publicKey"], node.origin)
    r = node.call("POST", "/v1/webauthn/register/verify", {"ceremony": o["ceremony"],
                                                           "credential": good})
    assert r.status_code == 400 and code(r) == "challenge_used"
    r = node.call("POST", "/v1/webauthn/register/verify", {"ceremony": "a" * 32,
                                                           "credential": good})
    assert r.status_code == 404 and code(r) == "ceremony_not_found"


def test_the_same_credential_registers_once(node):
    uid = node.user()
    auth = Authenticator()
    assert node.register(uid, auth).status_code == 200
    r = node.register(node.user("bob"), auth)
    assert r.status_code == 409 and code(r) == "credential_exists"


def test_malformed_credentials_are_refused(node):
    uid = node.user()

    def other_id(c):
        c["id"] = b64u(b"other")

    def password(c):
        c["type"] = "password"

    def not_base64(c):
        c["response"]["attestationObject"] = "!!"

    def trailing_byte(c):
        att = unb64u(c["response"]["attestationObject"]) + b"\x00"
        c["response"]["attestationObject"] = b64u(att)

    for tamper, want in [(other_id, "credential_id_mismatch"), (password, "invalid_value"),
                         (not_base64, "invalid_value"), (trailing_byte, "attestation_object_invalid")]:
        o = node.options(uid)
        c = Authenticator().create(o["publicKey"], node.origin)
        tamper(c)
        r = node.call("POST", "/v1/webauthn/register/verify", {"ceremony": o["ceremony"],
                                                               "credential": c})
        assert r.status_code == 400 and code(r) == want, (want, r.text)


def test_expired_challenge(tmp_dir):
    n = Node(os.path.join(tmp_dir, "home"), {"challenge_ttl_s": 1}).start()
    try:
        uid = n.user()
        o = n.options(uid)
        assert o["publicKey"]["timeout"] == 1000
        time.sleep(1.3)
        cred = Authenticator().create(o["publicKey"], n.origin)
        r = n.call("POST", "/v1/webauthn/register/verify", {"ceremony": o["ceremony"],
                                                            "credential": cred})
        assert r.status_code == 400 and code(r) == "challenge_expired"
    finally:
        n.stop()


def test_delete_credential(node):
    uid = node.user()
    cred = node.register(uid, Authenticator()).json()
    path = "/v1/users/%s/credentials/%s" % (uid, cred["id"])
    other = node.user("bob")
    r = node.call("DELETE", "/v1/users/%s/credentials/%s" % (other, cred["id"]))
    assert r.status_code == 404 and code(r) == "credential_not_found"
    r = node.call("DELETE", path)
    assert r.status_code == 200 and r.json() == {"id": cred["id"], "deleted": True}
    assert node.call("GET", "/v1/users/%s/credentials" % uid).json()["data"] == []
    assert code(node.call("DELETE", path)) == "credential_not_found"


def test_scopes(node):
    ro = create_key(node.home, "ro", "auth:read")
    ledger = create_key(node.home, "ledger", "ledger:read,ledger:write")
    time.sleep(1.1)  # keys created on a running node take effect within a second
    r = node.call("POST", "/v1/users", {"handle": "x", "display_name": "X"}, key=ro)
    assert r.status_code == 403
    uid = node.user()
    assert node.call("GET", "/v1/users/%s/credentials" % uid, key=ro).status_code == 200
    assert node.call("GET", "/v1/users/%s/credentials" % uid, key=ledger).status_code == 403
    r = requests.post("http://127.0.0.1:%d/v1/users" % node.port, json={})
    assert r.status_code == 401


def test_credentials_survive_kill_9(tmp_dir):
    n = Node(os.path.join(tmp_dir, "home")).start()
    uid = n.user()
    auth = Authenticator(EDDSA, "packed")
    cred = n.register(uid, auth).json()
    n.kill9()
    n.start()
    try:
        assert n.call("GET", "/v1/users/%s/credentials" % uid).json()["data"] == [cred]
        r = n.call("POST", "/v1/users", {"handle": "alice", "display_name": "Again"})
        assert code(r) == "handle_taken"
    finally:
        n.stop()


def test_settings_are_checked(tmp_dir):
    for i, (auth, want) in enumerate([({"rp_idd": "x"}, "unknown key modules.auth.rp_idd"),
                                      ({"challenge_ttl_s": 0}, "modules.auth.challenge_ttl_s"),
                                      ({"origins": "https://a"}, "modules.auth.origins")]):
        home = os.path.join(tmp_dir, "n%d" % i)
        os.makedirs(home)
        with open(os.path.join(home, "node.json"), "w") as f:
            json.dump({"listen": "127.0.0.1:0", "modules": {"auth": auth}}, f)
        r = subprocess.run([QUIPU, "node", "--home", home], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode in (1, 2) and want in r.stdout + r.stderr, r


def test_configured_rp_and_origins(tmp_dir):
    n = Node(os.path.join(tmp_dir, "home"), {"rp_id": "pay.example", "rp_name": "Pay",
                                              "origins": ["https://pay.example",
                                                          "android:apk-key-hash:abc"]}).start()
    try:
        uid = n.user()
        assert n.options(uid)["publicKey"]["rp"] == {"id": "pay.example", "name": "Pay"}
        assert n.register(uid, Authenticator(), origin="android:apk-key-hash:abc").status_code == 200
        r = n.register(uid, Authenticator(), origin=n.origin)
        assert code(r) == "origin_not_allowed"
    finally:
        n.stop()


def test_openapi_lists_the_routes(node):
    doc = node.call("GET", "/v1/openapi.json").json()
    for path, method in [("/v1/users", "post"), ("/v1/users/{id}/credentials", "get"),
                         ("/v1/users/{id}/credentials/{credential_id}", "delete"),
                         ("/v1/webauthn/register/options", "post"),
                         ("/v1/webauthn/register/verify", "post")]:
        assert method in doc["paths"][path], path


def test_longest_credential_id(node):
    """1023 bytes, the most WebAuthn allows: stored, listed, found and deleted."""
    uid = node.user()
    auth = Authenticator(id_len=1023)
    r = node.register(uid, auth)
    assert r.status_code == 200, r.text
    assert len(unb64u(r.json()["id"])) == 1023
    assert node.register(node.user("bob"), auth).status_code == 409
    assert [c["id"] for c in node.call("GET", "/v1/users/%s/credentials" % uid).json()["data"]] \
        == [r.json()["id"]]
    r = node.call("DELETE", "/v1/users/%s/credentials/%s" % (uid, r.json()["id"]))
    assert r.status_code == 200, r.text
    r = node.register(uid, Authenticator(id_len=1024))
    assert r.status_code == 400 and code(r) in ("credential_id_too_long", "invalid_value"), r.text
