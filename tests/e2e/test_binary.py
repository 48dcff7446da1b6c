"""The ledger's binary protocol (docs/binary.md) end to end: a Python client
over a plain socket against `quipu node` with modules.ledger.binary_listen.

Auth with the same API keys as HTTP, creates and lookups of the journal's
128-byte records, per-event results identical to HTTP/JSON for the same
batch, bad frames and wrong keys refused with an error frame and a closed
connection and nothing applied, scopes enforced, durability across kill -9,
and `quipu client --binary ... smoke`.
"""
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import time

import pytest
import requests

from conftest import QUIPU, ROOT, Api, Server, create_key, new_id, transfer, accounts

HEADER = 40
OP_AUTH, OP_CREATE_ACCOUNTS, OP_CREATE_TRANSFERS, OP_LOOKUP_ACCOUNTS, OP_LOOKUP_TRANSFERS = 1, 2, 3, 4, 5
OP_ERROR = 255
ERRORS = {1: "bad_magic", 2: "bad_version", 3: "bad_op", 4: "bad_status", 5: "body_too_large",
          6: "bad_body_length", 7: "bad_checksum", 8: "auth_required", 9: "bad_key",
          10: "forbidden", 11: "ledger_forbidden", 64: "busy"}
FLAG_PENDING, FLAG_POST = 1 << 1, 1 << 2


def result_names(macro):
    """The result code names in wire order, from src/ledger/ledger.h."""
    text = open(os.path.join(ROOT, "src", "ledger", "ledger.h")).read()
    body = text.split("#define %s(XX)" % macro, 1)[1].split("\n\n", 1)[0]
    return re.findall(r"XX\(\w+,[\s\\]*(\w+)\)", body)


def frame(op, rid, body, status=0, version=1, magic=b"QPB1", length=None):
    head = magic + struct.pack("<HHQII", version, op, rid,
                               len(body) if length is None else length, status)
    return head + hashlib.blake2b(head + body, digest_size=16).digest() + body


def u128(v):
    return struct.pack("<QQ", v & (2**64 - 1), v >> 64)


def account_record(id_, ledger=1, code=1, flags=0):
    return u128(id_) + b"\0" * 80 + struct.pack("<QIIIHHQ", 0, 0, 0, ledger, code, flags, 0)


def transfer_record(id_, debit, credit, amount, ledger=1, code=1, flags=0, pending_id=0):
    return (u128(id_) + u128(debit) + u128(credit) + u128(amount) + u128(pending_id) + u128(0)
            + struct.pack("<QIIIHHQ", 0, 0, 0, ledger, code, flags, 0))


def parse_account(rec):
    id_lo, id_hi = struct.unpack_from("<QQ", rec, 0)
    dp = struct.unpack_from("<QQ", rec, 32)
    cp = struct.unpack_from("<QQ", rec, 64)
    ledger, code, flags, ts = struct.unpack_from("<IHHQ", rec, 112)
    return {"id": id_lo | id_hi << 64, "debits_posted": dp[0] | dp[1] << 64,
            "credits_posted": cp[0] | cp[1] << 64, "ledger": ledger, "code": code, "timestamp": ts}


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.rid = 0

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise EOFError("closed after %d of %d bytes" % (len(out), n))
            out += chunk
        return out

    def read_frame(self):
        head = self.recv_exact(HEADER)
        assert head[:4] == b"QPB1"
        _, op, rid, n, status = struct.unpack_from("<HHQII", head, 4)
        body = self.recv_exact(n)
        assert hashlib.blake2b(head[:24] + body, digest_size=16).digest() == head[24:40]
        return op, rid, status, body

    def call(self, op, body):
        self.rid += 1
        self.send_raw(frame(op, self.rid, body))
        rop, rid, status, rbody = self.read_frame()
        assert rid == self.rid
        return rop, status, rbody

    def closed(self):
        """True when the server closed the connection (EOF), polled up to 10 s."""
        self.sock.settimeout(10)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class BinServer(Server):
    """`quipu node` with the binary listener on a kernel-chosen port."""

    def __init__(self, data_dir, **ledger):
        super().__init__(data_dir)
        self.ledger = dict(ledger, binary_listen="127.0.0.1:0")

    def command(self):
        os.makedirs(self.data_dir, exist_ok=True)
        with open(os.path.join(self.data_dir, "node.json"), "w") as f:
            json.dump({"listen": "127.0.0.1:0", "modules": {"ledger": self.ledger}}, f)
        return [QUIPU, "node", "--home", self.data_dir]

    def start(self, timeout=15):
        super().start(timeout)
        m = re.findall(r"binary protocol listening on 127\.0\.0\.1:(\d+)", self.read_log())
        assert m, self.read_log()
        self.bin_port = int(m[-1])
        return self


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    data = str(tmp_path_factory.mktemp("binary") / "data")
    keys = {"rw": create_key(data, "rw"), "ro": create_key(data, "ro", "ledger:read"),
            "l2": create_key(data, "l2", "ledger:read,ledger:write")}
    out = subprocess.run([QUIPU, "keys", "create", "--data", data, "--name", "l71",
                          "--scope", "ledger:read,ledger:write", "--ledgers", "71"],
                         check=True, capture_output=True, text=True)
    keys["l71"] = out.stdout.strip()
    subprocess.run([QUIPU, "keys", "revoke", "--data", data, "l2"], check=True,
                   capture_output=True)
    s = BinServer(data).start()
    yield s, keys
    assert s.stop() == 0


def authed(node, key="rw"):
    s, keys = node
    c = Conn(s.bin_port)
    op, status, body = c.call(OP_AUTH, keys[key].encode())
    assert (op, status) == (OP_AUTH, 0), body
    assert b"ledger:read" in body
    return c


def results(body):
    return [struct.unpack_from("<II", body, i) for i in range(0, len(body), 8)]


def test_create_and_lookup(node):
    c = authed(node)
    a, b, t = new_id(), new_id(), new_id()
    op, status, body = c.call(OP_CREATE_ACCOUNTS, account_record(a) + account_record(b))
    assert (op, status, body) == (OP_CREATE_ACCOUNTS, 0, b"")  # only non-ok results: none
    op, status, body = c.call(OP_CREATE_TRANSFERS, transfer_record(t, a, b, 7))
    assert (op, status, body) == (OP_CREATE_TRANSFERS, 0, b"")
    op, status, body = c.call(OP_LOOKUP_ACCOUNTS, u128(a) + u128(new_id()) + u128(b))
    assert op == OP_LOOKUP_ACCOUNTS and status == 0 and len(body) == 256  # unknown id skipped
    da, db = parse_account(body[:128]), parse_account(body[128:])
    assert (da["id"], da["debits_posted"], db["id"], db["credits_posted"]) == (a, 7, b, 7)
    op, status, body = c.call(OP_LOOKUP_TRANSFERS, u128(t))
    assert len(body) == 128 and body[:16] == u128(t) and body[48:64] == u128(7)
    # HTTP sees the same records, with the same timestamp
    api = Api(node[0], node[1]["rw"])
    assert api.account(a)["debits_posted"] == "7"
    assert api.account(a)["timestamp"] == str(da["timestamp"])
    c.close()


def test_results_identical_to_http(node):
    """The same batch shape (fresh ids) gets the same per-event results either way."""
    names = result_names("QP_CREATE_TRANSFER_RESULTS")
    api = Api(node[0], node[1]["rw"])
    c = authed(node)

    def batch():
        a, b, ids = new_id(), new_id(), [new_id() for _ in range(6)]
        assert api.create_accounts(accounts(a, b)) == ["ok", "ok"]
        return a, b, ids

    def shape(a, b, ids):  # ok, same accounts, zero amount, unknown account, pending, dup id
        return [(ids[0], a, b, 3, 0), (ids[1], a, a, 1, 0), (ids[2], a, b, 0, 0),
                (ids[3], a, new_id(), 1, 0), (ids[4], b, a, 2, FLAG_PENDING), (ids[0], a, b, 3, 0)]

    rows = shape(*batch())
    http = api.create_transfers([transfer(i, d, cr, amt, flags=["pending"] if f else [])
                                 for i, d, cr, amt, f in rows])
    rows = shape(*batch())
    op, status, body = c.call(OP_CREATE_TRANSFERS,
                              b"".join(transfer_record(i, d, cr, amt, flags=f)
                                       for i, d, cr, amt, f in rows))
    got = ["ok"] * len(rows)
    for index, result in results(body):
        got[index] = names[result]
    assert got == http
    assert got.count("ok") == 2 and len(set(got)) >= 4, got
    c.close()


def expect_refused(c, raw, error):
    c.send_raw(raw)
    op, _, status, body = c.read_frame()
    assert op == OP_ERROR and ERRORS[status] == error, (status, body)
    assert len(body) > 0
    assert c.closed()
    return body.decode()


def nothing_applied(node, *ids):
    api = Api(node[0], node[1]["rw"])
    for i in ids:
        assert api.get("/v1/accounts/%d" % i).status_code == 404


@pytest.mark.parametrize("mangle,error", [
    (lambda f: b"QPB2" + f[4:], "bad_magic"),
    (lambda f: f[:4] + b"\x02\x00" + f[6:], "bad_version"),
    (lambda f: f[:6] + b"\x09\x00" + f[8:], "bad_op"),
    (lambda f: f[:20] + b"\x01\x00\x00\x00" + f[24:], "bad_status"),
    (lambda f: f[:-1] + bytes([f[-1] ^ 1]), "bad_checksum"),
    (lambda f: f[:30] + bytes([f[30] ^ 1]) + f[31:], "bad_checksum"),
])
def test_bad_frames_refused_nothing_applied(node, mangle, error):
    c = authed(node)
    a = new_id()
    expect_refused(c, mangle(frame(OP_CREATE_ACCOUNTS, 5, account_record(a))), error)
    nothing_applied(node, a)


def test_lengths_refused_from_the_header(node):
    c = authed(node)
    a = new_id()
    rec = account_record(a)
    msg = expect_refused(c, frame(OP_CREATE_ACCOUNTS, 1, rec[:100]), "bad_body_length")
    assert "128" in msg
    nothing_applied(node, a)
    c = authed(node)  # only the header: 8191 records are refused before any body is sent
    msg = expect_refused(c, frame(OP_CREATE_TRANSFERS, 1, b"", length=8191 * 128), "body_too_large")
    assert "1048320" in msg


def test_auth_required_and_wrong_key(node):
    s, keys = node
    a = new_id()
    c = Conn(s.bin_port)
    expect_refused(c, frame(OP_CREATE_ACCOUNTS, 1, account_record(a)), "auth_required")
    wrong = keys["rw"][:-4] + ("0000" if not keys["rw"].endswith("0000") else "1111")
    for key in (wrong, "not-a-key", keys["l2"]):  # wrong secret, garbage, revoked
        c = Conn(s.bin_port)
        expect_refused(c, frame(OP_AUTH, 1, key.encode()), "bad_key")
    nothing_applied(node, a)


def test_scopes(node):
    c = authed(node, "ro")
    a = new_id()
    op, status, body = c.call(OP_LOOKUP_ACCOUNTS, u128(a))
    assert (op, status, body) == (OP_LOOKUP_ACCOUNTS, 0, b"")
    msg = expect_refused(c, frame(OP_CREATE_ACCOUNTS, 9, account_record(a)), "forbidden")
    assert "ledger:write" in msg
    nothing_applied(node, a)


def test_key_restricted_to_ledgers(node):
    c = authed(node, "l71")
    a, b, other = new_id(), new_id(), new_id()
    assert c.call(OP_CREATE_ACCOUNTS, account_record(a, ledger=71) + account_record(b, ledger=71))[1:] \
        == (0, b"")
    rw = authed(node)
    assert rw.call(OP_CREATE_ACCOUNTS, account_record(other, ledger=1))[1:] == (0, b"")
    _, _, body = c.call(OP_LOOKUP_ACCOUNTS, u128(a) + u128(other))  # ledger 1: as if unknown
    assert len(body) == 128 and parse_account(body)["id"] == a
    x = new_id()
    msg = expect_refused(c, frame(OP_CREATE_ACCOUNTS, 3, account_record(x, ledger=71)
                                  + account_record(new_id(), ledger=1)), "ledger_forbidden")
    assert "record 1" in msg and "ledger 1" in msg
    nothing_applied(node, x)


def test_pipelined_frames_answered_in_order(node):
    c = authed(node)
    ids = [new_id() for _ in range(5)]
    c.send_raw(b"".join(frame(OP_CREATE_ACCOUNTS, 100 + i, account_record(x))
                        for i, x in enumerate(ids)))
    for i in range(5):
        op, rid, status, body = c.read_frame()
        assert (op, rid, status, body) == (OP_CREATE_ACCOUNTS, 100 + i, 0, b"")
    op, status, body = c.call(OP_LOOKUP_ACCOUNTS, b"".join(u128(x) for x in ids))
    assert len(body) == 5 * 128


def test_cli_smoke(node):
    s, keys = node
    env = dict(os.environ, QUIPU_KEY=keys["rw"])
    out = subprocess.run([QUIPU, "client", "--binary", "127.0.0.1:%d" % s.bin_port, "smoke"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "binary smoke: ok" in out.stdout
    env["QUIPU_KEY"] = keys["ro"]
    out = subprocess.run([QUIPU, "client", "--binary", "127.0.0.1:%d" % s.bin_port, "smoke"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "forbidden" in out.stderr
    out = subprocess.run([QUIPU, "client", "--binary", "127.0.0.1:%d" % s.bin_port, "audit"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "load` and `smoke` only" in out.stderr


def test_cli_load(node):
    s, keys = node
    env = dict(os.environ, QUIPU_KEY=keys["rw"])
    out = subprocess.run([QUIPU, "client", "--binary", "127.0.0.1:%d" % s.bin_port, "load",
                          "--batch", "100", "--connections", "2", "--duration", "1",
                          "--accounts", "10"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "failed 0" in out.stdout
    n = int(re.search(r"transfers: (\d+) ok", out.stdout).group(1))
    assert n > 0 and n % 100 == 0


def test_cli_load_open_loop(node):
    """--rate offers a fixed rate: about rate x duration requests, each on schedule."""
    s, keys = node
    env = dict(os.environ, QUIPU_KEY=keys["rw"])
    out = subprocess.run([QUIPU, "client", "--binary", "127.0.0.1:%d" % s.bin_port, "load",
                          "--batch", "1", "--connections", "4", "--duration", "2",
                          "--accounts", "10", "--rate", "200"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "offered 200 requests/s (open loop" in out.stdout
    n = int(re.search(r"requests:\s+(\d+)", out.stdout).group(1))
    assert n == 400  # 200/s for 2 s, every scheduled request sent and answered
    assert "transfers: 400 ok" in out.stdout
    out = subprocess.run([QUIPU, "client", "--binary", "127.0.0.1:%d" % s.bin_port, "load",
                          "--rate", "0"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "not a positive integer" in out.stderr


def test_acknowledged_is_durable(tmp_path):
    data = str(tmp_path / "data")
    key = create_key(data, "rw")
    s = BinServer(data).start()
    c = Conn(s.bin_port)
    assert c.call(OP_AUTH, key.encode())[1] == 0
    a, b = new_id(), new_id()
    assert c.call(OP_CREATE_ACCOUNTS, account_record(a) + account_record(b))[1:] == (0, b"")
    assert c.call(OP_CREATE_TRANSFERS, transfer_record(new_id(), a, b, 9))[1:] == (0, b"")
    s.kill9()
    s.start()
    c = Conn(s.bin_port)
    assert c.call(OP_AUTH, key.encode())[1] == 0
    _, _, body = c.call(OP_LOOKUP_ACCOUNTS, u128(a))
    assert parse_account(body)["debits_posted"] == 9
    assert s.stop() == 0


def metric(server, line_start):
    text = requests.get(server.url("/metrics"), timeout=10).text
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return int(line.split()[-1])
    raise AssertionError("no %s in /metrics" % line_start)


def test_metrics(node):
    s, _ = node
    frames = metric(s, 'quipu_binary_frames_total{op="lookup_accounts"}')
    errors = metric(s, 'quipu_binary_errors_total{error="bad_checksum"}')
    c = authed(node)
    c.call(OP_LOOKUP_ACCOUNTS, u128(new_id()))
    open_now = metric(s, "quipu_binary_connections")
    assert open_now >= 1
    f = frame(OP_LOOKUP_ACCOUNTS, 1, u128(1))
    expect_refused(c, f[:-1] + bytes([f[-1] ^ 1]), "bad_checksum")
    assert metric(s, 'quipu_binary_frames_total{op="lookup_accounts"}') == frames + 1
    assert metric(s, 'quipu_binary_errors_total{error="bad_checksum"}') == errors + 1
    deadline = time.time() + 10
    while metric(s, "quipu_binary_connections") > open_now - 1 and time.time() < deadline:
        time.sleep(0.05)  # the server's close callback runs after the client saw EOF
    assert metric(s, "quipu_binary_connections") <= open_now - 1


@pytest.mark.parametrize("value,message", [
    (5, 'modules.ledger.binary_listen must be "host:port"'),
    ("", 'modules.ledger.binary_listen must be "host:port"'),
    ("nope", "modules.ledger.binary_listen must be"),
    ("127.0.0.1:99999", "modules.ledger.binary_listen must be"),
])
def test_bad_binary_listen_refused(tmp_path, value, message):
    home = str(tmp_path / "home")
    os.makedirs(home)
    with open(os.path.join(home, "node.json"), "w") as f:
        json.dump({"listen": "127.0.0.1:0", "modules": {"ledger": {"binary_listen": value}}}, f)
    out = subprocess.run([QUIPU, "node", "--home", home], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode != 0
    assert message in out.stdout + out.stderr, out.stdout + out.stderr


def test_binary_listen_address_in_use(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    home = str(tmp_path / "home")
    os.makedirs(home)
    with open(os.path.join(home, "node.json"), "w") as f:
        json.dump({"listen": "127.0.0.1:0", "modules": {"ledger": {
            "binary_listen": "127.0.0.1:%d" % busy.getsockname()[1]}}}, f)
    out = subprocess.run([QUIPU, "node", "--home", home], capture_output=True, text=True,
                         timeout=30)
    busy.close()
    assert out.returncode != 0
    assert "cannot listen on" in out.stdout + out.stderr, out.stdout + out.stderr


def test_a_begun_frame_must_complete_in_time(tmp_path):
    """A client that starts a frame and stalls is closed at binary_frame_timeout_ms; an idle
    connection between frames is not."""
    data = str(tmp_path / "data")
    key = create_key(data, "rw")
    s = BinServer(data, binary_frame_timeout_ms=300).start()
    idle = Conn(s.bin_port)
    assert idle.call(OP_AUTH, key.encode())[1] == 0
    stalled = Conn(s.bin_port)
    stalled.send_raw(frame(OP_AUTH, 1, key.encode())[:20])
    t0 = time.time()
    assert stalled.closed()
    assert 0.2 < time.time() - t0 < 5
    time.sleep(0.5)  # longer than the deadline, but no frame begun: still served
    assert idle.call(OP_LOOKUP_ACCOUNTS, u128(1))[:2] == (OP_LOOKUP_ACCOUNTS, 0)
    assert s.stop() == 0
