"""A software WebAuthn authenticator for the end-to-end tests of the auth
module: it makes credentials (ES256, EdDSA, RS256; attestation "none" or
"packed" self attestation) and assertions the way a platform authenticator
does, and returns them in WebAuthn's JSON serialization (what a browser's
credential.toJSON() gives), so the tests post exactly what a page would.

Keys and signatures come from the `cryptography` package; the attestation
object is encoded with the few lines of CBOR below (definite lengths only,
the CTAP2 subset the relying party accepts).  Each step takes keyword
arguments to tamper with one thing (the origin, the challenge, a flag, the
signature, the counter) so a test provokes one refusal at a time.  `Node`
runs `quipu node` with the ledger and auth modules for those tests.
"""
import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import time

import requests

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from conftest import QUIPU, create_key

SCOPES = "auth:read,auth:write,ledger:read,ledger:write"
UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80
ES256, EDDSA, RS256 = -7, -8, -257


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | extra]) + n.to_bytes(size, "big")
    raise ValueError(n)


def cbor(x):
    """CBOR of ints, bytes, str, bool, lists and dicts (definite lengths)."""
    if isinstance(x, bool):
        return b"\xf5" if x else b"\xf4"
    if isinstance(x, int):
        return _head(0, x) if x >= 0 else _head(1, -1 - x)
    if isinstance(x, bytes):
        return _head(2, len(x)) + x
    if isinstance(x, str):
        return _head(3, len(x.encode())) + x.encode()
    if isinstance(x, list):
        return _head(4, len(x)) + b"".join(cbor(i) for i in x)
    if isinstance(x, dict):
        return _head(5, len(x)) + b"".join(cbor(k) + cbor(v) for k, v in x.items())
    raise TypeError(type(x))


def sha256(data):
    return hashlib.sha256(data).digest()


class Authenticator:
    """One credential on one authenticator."""

    def __init__(self, alg=ES256, fmt="none", backup_eligible=False, id_len=32):
        self.alg, self.fmt, self.backup_eligible = alg, fmt, backup_eligible
        self.credential_id = os.urandom(id_len)
        self.aaguid = bytes(range(16))
        self.count = 0
        if alg == ES256:
            self.key = ec.generate_private_key(ec.SECP256R1())
        elif alg == EDDSA:
            self.key = ed25519.Ed25519PrivateKey.generate()
        else:
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def cose_key(self):
        pub = self.key.public_key()
        if self.alg == ES256:
            n = pub.public_numbers()
            return {1: 2, 3: ES256, -1: 1, -2: n.x.to_bytes(32, "big"), -3: n.y.to_bytes(32, "big")}
        if self.alg == EDDSA:
            from cryptography.hazmat.primitives import serialization
            raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return {1: 1, 3: EDDSA, -1: 6, -2: raw}
        n = pub.public_numbers()
        return {1: 3, 3: RS256, -1: n.n.to_bytes(256, "big"), -2: n.e.to_bytes(3, "big")}

    def sign(self, data):
        if self.alg == ES256:
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        if self.alg == EDDSA:
            return self.key.sign(data)
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def flags(self, uv, extra=0):
        f = UP | (UV if uv else 0) | extra
        if self.backup_eligible:
            f |= BE | BS
        return f

    def client_data(self, type_, challenge, origin, **extra):
        c = {"type": type_, "challenge": challenge, "origin": origin, "crossOrigin": False}
        c.update(extra)
        return json.dumps(c, separators=(",", ":")).encode()

    def create(self, options, origin, uv=True, challenge=None, rp_id=None, bad_signature=False,
               client_type="webauthn.create"):
        """RegistrationResponseJSON for PublicKeyCredentialCreationOptionsJSON."""
        cd = self.client_data(client_type, challenge or options["challenge"], origin)
        auth_data = (sha256((rp_id or options["rp"]["id"]).encode()) +
                     bytes([self.flags(uv, AT)]) + self.count.to_bytes(4, "big") + self.aaguid +
                     len(self.credential_id).to_bytes(2, "big") + self.credential_id +
                     cbor(self.cose_key()))
        stmt = {}
        if self.fmt == "packed":
            sig = bytearray(self.sign(auth_data + sha256(cd)))
            if bad_signature:
                sig[-5] ^= 1
            stmt = {"alg": self.alg, "sig": bytes(sig)}
        att = cbor({"fmt": self.fmt, "attStmt": stmt, "authData": auth_data})
        return {"id": b64u(self.credential_id), "rawId": b64u(self.credential_id),
                "type": "public-key", "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
                "response": {"clientDataJSON": b64u(cd), "attestationObject": b64u(att),
                             "transports": ["internal"]}}

    def get(self, options, origin, uv=True, challenge=None, count_step=1, bad_signature=False,
            client_type="webauthn.get", **client_extra):
        """AuthenticationResponseJSON for PublicKeyCredentialRequestOptionsJSON."""
        self.count += count_step
        cd = self.client_data(client_type, challenge or options["challenge"], origin,
                              **client_extra)
        auth_data = (sha256(options["rpId"].encode()) + bytes([self.flags(uv)]) +
                     self.count.to_bytes(4, "big"))
        sig = bytearray(self.sign(auth_data + sha256(cd)))
        if bad_signature:
            sig[-5] ^= 1
        return {"id": b64u(self.credential_id), "rawId": b64u(self.credential_id),
                "type": "public-key", "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
                "response": {"clientDataJSON": b64u(cd), "authenticatorData": b64u(auth_data),
                             "signature": b64u(bytes(sig)), "userHandle": None}}


class Node:
    """`quipu node` with {"ledger": {}, "auth": auth} on a free loopback port."""

    def __init__(self, home, auth=None):
        self.home, self.auth, self.proc = home, auth or {}, None
        os.makedirs(home, exist_ok=True)
        with open(os.path.join(home, "node.json"), "w") as f:
            json.dump({"listen": "127.0.0.1:0", "modules": {"ledger": {}, "auth": self.auth}}, f)
        self.key = create_key(home, "ops", SCOPES)

    def start(self, timeout=15):
        log_path = os.path.join(self.home, "node.log")
        self.log = open(log_path, "a")
        seen = self.log.tell()  # a restart appends: read only what this process writes
        self.proc = subprocess.Popen([QUIPU, "node", "--home", self.home], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.findall(r"listening on http://127\.0\.0\.1:(\d+)", open(log_path).read()[seen:])
            if m and self.proc.poll() is None:
                self.port = int(m[-1])
                self.origin = "http://localhost:%d" % self.port
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(open(log_path).read())
            time.sleep(0.02)
        raise RuntimeError("node did not come up")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=20) == 0

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def call(self, method, path, body=None, key=None):
        h = {"Authorization": "Bearer " + (key or self.key)}
        return requests.request(method, "http://127.0.0.1:%d%s" % (self.port, path), json=body,
                                headers=h, timeout=30)

    def user(self, handle="alice"):
        r = self.call("POST", "/v1/users", {"handle": handle, "display_name": handle.title()})
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def options(self, user_id):
        r = self.call("POST", "/v1/webauthn/register/options", {"user_id": user_id})
        assert r.status_code == 200, r.text
        return r.json()

    def register(self, user_id, auth, **tamper):
        o = self.options(user_id)
        origin = tamper.pop("origin", self.origin)
        cred = auth.create(o["publicKey"], origin, **tamper)
        return self.call("POST", "/v1/webauthn/register/verify",
                         {"ceremony": o["ceremony"], "credential": cred})
