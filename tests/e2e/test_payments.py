"""The payments module (docs/payments.md) against the real binary: `quipu
node` with ledger, auth and payments.  Merchants on a real settlement
account, orders whose EMV QR payload is parsed back and its CRC recomputed
here (independently of the C code), the SVG and PNG renderings decoded into
module matrices that must agree and show the three finder patterns, parse
errors naming the tag, Idempotency-Key (same body, other body, concurrent
retries, after a restart), cursor pagination, expiry, cancel, merchant keys,
and bad inputs that change nothing.
"""
import concurrent.futures
import json
import os
import re
import signal
import struct
import subprocess
import time
import zlib

import pytest
import requests

from conftest import QUIPU, create_key, new_id

LEDGER = 840


class PayNode:
    """`quipu node` with {"ledger": {}, "auth": {}, "payments": settings}."""

    def __init__(self, home, settings=None):
        self.home, self.proc = home, None
        os.makedirs(home, exist_ok=True)
        with open(os.path.join(home, "node.json"), "w") as f:
            json.dump({"listen": "127.0.0.1:0", "modules": {
                "ledger": {}, "auth": {}, "payments": settings or {}}}, f)
        self.key = create_key(home, "ops", "admin")

    def start(self, timeout=15):
        path = os.path.join(self.home, "node.log")
        log = open(path, "a")
        seen = log.tell()
        self.proc = subprocess.Popen([QUIPU, "node", "--home", self.home], stdout=log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.findall(r"listening on http://127\.0\.0\.1:(\d+)", open(path).read()[seen:])
            if m and self.proc.poll() is None:
                self.port = int(m[-1])
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(open(path).read())
            time.sleep(0.02)
        raise RuntimeError("node did not come up")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=20) == 0

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def call(self, method, path, body=None, key=None, idem=None, raw=None):
        h = {"Authorization": "Bearer " + (key or self.key)}
        if idem is not None:
            h["Idempotency-Key"] = idem
        if raw is not None:
            h["Content-Type"] = "application/json"
            return requests.request(method, "http://127.0.0.1:%d%s" % (self.port, path),
                                    data=raw, headers=h, timeout=30)
        return requests.request(method, "http://127.0.0.1:%d%s" % (self.port, path), json=body,
                                headers=h, timeout=30)

    def accounts(self, *ids, ledger=LEDGER):
        r = self.call("POST", "/v1/accounts", [
            {"id": str(i), "ledger": ledger, "code": 1, "flags": []} for i in ids])
        assert [x["result"] for x in r.json()["results"]] == ["ok"] * len(ids), r.text

    def merchant(self, **extra):
        account = new_id()
        self.accounts(account)
        body = {"name": "Coffee Shop", "settlement_account_id": str(account), "ledger": LEDGER,
                "currency": "USD", "city": "Lima", "country": "PE", "mcc": "5814"}
        body.update(extra)
        r = self.call("POST", "/v1/merchants", body)
        assert r.status_code == 200, r.text
        return r.json()

    def order(self, merchant, amount="1234", key=None, idem=None, **extra):
        body = {"merchant_id": merchant["id"], "amount": amount, "ledger": LEDGER,
                "currency": "USD", "description": "two coffees", "reference": "INV-7"}
        body.update(extra)
        return self.call("POST", "/v1/orders", body, key=key, idem=idem)

    def orders(self, query=""):
        r = self.call("GET", "/v1/orders" + query)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def node(tmp_dir):
    n = PayNode(os.path.join(tmp_dir, "home")).start()
    yield n
    if n.proc.poll() is None:
        n.stop()


def crc16(data):
    """CRC-16/CCITT-FALSE, written here from its definition."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def tlv(text):
    """Top-level EMV data objects of an ASCII payload, as a dict id -> value."""
    out, i = {}, 0
    while i < len(text):
        tag, n = text[i:i + 2], int(text[i + 2:i + 4])
        out[tag] = text[i + 4:i + 4 + n]
        i += 4 + n
    assert i == len(text)
    return out


def code(r):
    return r.json()["error"]["code"]


def new_key(node, name, scopes):
    """A key made with `quipu keys create` while the node runs: it works once
    the node has looked at the key file again (a fraction of a second)."""
    return wait_key(node, create_key(node.home, name, scopes))


def wait_key(node, key):
    deadline = time.time() + 5
    while node.call("GET", "/v1/orders", key=key).status_code == 401 and time.time() < deadline:
        time.sleep(0.05)
    return key


def test_crc_check_value():
    assert crc16(b"123456789") == 0x29B1


def svg_matrix(svg):
    """The dark modules of our SVG as a set of (x, y), and the image size."""
    size = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1))
    path = re.search(r' d="([^"]*)"', svg).group(1)
    dark = {(int(x), int(y)) for x, y in re.findall(r"M(\d+) (\d+)h1v1h-1z", path)}
    return size, dark


def png_pixels(data):
    """A greyscale 8-bit PNG decoded with zlib and struct: (width, height, rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    i, idat, width = 8, b"", None
    while i < len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        kind, body = data[i + 4:i + 8], data[i + 8:i + 8 + n]
        (crc,) = struct.unpack(">I", data[i + 8 + n:i + 12 + n])
        assert zlib.crc32(kind + body) == crc, kind
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (8, 0)
        elif kind == b"IDAT":
            idat += body
        i += 12 + n
    assert kind == b"IEND"
    raw = zlib.decompress(idat)
    rows = []
    for y in range(height):
        line = raw[y * (width + 1):(y + 1) * (width + 1)]
        assert line[0] == 0  # filter: none
        rows.append(line[1:])
    return width, height, rows


def finder_at(dark, x0, y0):
    """The 7x7 finder pattern: dark ring, light ring, dark 3x3 centre."""
    for dy in range(7):
        for dx in range(7):
            ring = max(abs(dx - 3), abs(dy - 3))
            if ((x0 + dx, y0 + dy) in dark) != (ring != 2):
                return False
    return True


def test_merchant_order_and_its_qr(node):
    m = node.merchant()
    assert m["currency_numeric"] == 840 and m["mcc"] == "5814" and len(m["id"]) == 32
    assert node.call("GET", "/v1/merchants/" + m["id"]).json() == m
    r = node.order(m, amount="1234")
    assert r.status_code == 200, r.text
    o = r.json()
    assert o["status"] == "open" and o["amount"] == "1234" and o["amount_major"] == "12.34"
    assert o["merchant_id"] == m["id"] and o["currency"] == "USD" and o["ledger"] == LEDGER
    qr = o["qr"]
    assert int(qr[-4:], 16) == crc16(qr[:-4].encode()) and qr[-8:-4] == "6304"
    tags = tlv(qr)
    assert list(tags)[0] == "00" and list(tags)[-1] == "63"
    assert tags["00"] == "01" and tags["01"] == "12" and tags["52"] == "5814"
    assert tags["53"] == "840" and tags["54"] == "12.34" and tags["58"] == "PE"
    assert tags["59"] == "Coffee Shop" and tags["60"] == "Lima"
    assert tlv(tags["26"]) == {"00": "com.quipu.pay", "01": o["id"]}
    assert tlv(tags["62"]) == {"05": "INV-7"}
    parsed = node.call("POST", "/v1/qr/parse", {"payload": qr}).json()
    assert parsed["order_id"] == o["id"] and parsed["crc"] == qr[-4:]
    assert [t["id"] for t in parsed["tags"]] == list(tags)
    assert node.call("GET", "/v1/orders/" + o["id"]).json() == o
    paths = node.call("GET", "/v1/openapi.json").json()["paths"]
    for path in ("/v1/merchants", "/v1/merchants/{id}/keys", "/v1/orders/{id}/qr.png",
                 "/v1/qr/parse"):
        assert path in paths, path
    # Minor units: JPY has none.
    jpy = node.merchant(currency="JPY")
    r = node.order(jpy, amount="500", currency="JPY")
    assert tlv(r.json()["qr"])["54"] == "500" and tlv(r.json()["qr"])["53"] == "392"


def test_svg_and_png(node):
    m = node.merchant()
    o = node.order(m).json()
    r = node.call("GET", "/v1/orders/%s/qr.svg" % o["id"])
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/svg+xml")
    size, dark = svg_matrix(r.text)
    width = size - 8  # a 4-module quiet zone on each side
    assert width >= 21 and (width - 17) % 4 == 0  # a QR version's module count
    assert all(4 <= x < 4 + width and 4 <= y < 4 + width for x, y in dark)
    for x0, y0 in ((4, 4), (4 + width - 7, 4), (4, 4 + width - 7)):
        assert finder_at(dark, x0, y0), (x0, y0)
    assert not finder_at(dark, 4 + width - 7, 4 + width - 7)
    # Timing pattern: row 6 of the symbol alternates between the finders.
    assert all(((4 + x, 4 + 6) in dark) == (x % 2 == 0) for x in range(8, width - 8))
    r = node.call("GET", "/v1/orders/%s/qr.png" % o["id"])
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    w, h, rows = png_pixels(r.content)
    assert w == h == size * 8
    png_dark = {(x, y) for y in range(size) for x in range(size)
                if rows[y * 8 + 4][x * 8 + 4] == 0}
    assert png_dark == dark  # both drawings are the same matrix


def test_parse_errors_name_the_tag(node):
    m = node.merchant()
    qr = node.order(m).json()["qr"]
    bad_crc = qr[:-4] + ("0000" if qr[-4:] != "0000" else "0001")
    cases = [
        (bad_crc, "63"),
        (qr[:-4] + qr[-4:].lower() if qr[-4:] != qr[-4:].lower() else qr[:-1], "63"),
        (qr.replace("0013com.quipu.pay0132", "0013com.quipu.pay0140", 1), "26.01"),
        ("0102" + qr[4:], "01"),
        (qr[:12] + "2600" + qr[12:], "26"),
        ("000201010212X", "@12"),
        ("", None),
    ]
    for payload, path in cases:
        r = node.call("POST", "/v1/qr/parse", {"payload": payload})
        assert r.status_code == 400, (payload, r.text)
        if path is None:
            assert code(r) == "invalid_value"
            continue
        assert code(r) == "invalid_qr" and r.json()["error"]["path"] == path, (payload, r.text)
    # EMVCo's published example, Chinese characters and all.
    emvco = ("00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678"
             "520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京"
             "540523.7253031565502016233030412340603***0708A60086670902ME91320016A011223344"
             "9988770708123456786304A13A")
    r = node.call("POST", "/v1/qr/parse", {"payload": emvco})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["crc"] == "A13A" and "order_id" not in body
    t64 = [t for t in body["tags"] if t["id"] == "64"][0]
    assert t64["tags"][1] == {"id": "01", "length": 4, "value": "最佳运输"}
    r = node.call("POST", "/v1/qr/parse", {"payload": qr, "extra": 1})
    assert r.status_code == 400 and code(r) == "unknown_field"


def test_idempotency(node):
    m = node.merchant()
    first = node.order(m, idem="order-A")
    assert first.status_code == 200, first.text
    again = node.order(m, idem="order-A")
    assert again.status_code == 200 and again.json() == first.json()
    other = node.order(m, amount="999", idem="order-A")
    assert other.status_code == 422 and code(other) == "idempotency_key_reused"
    assert other.json()["error"]["path"] == "Idempotency-Key"
    # The same key on another route is another request too.
    r = node.call("POST", "/v1/orders/%s/cancel" % first.json()["id"], {}, idem="order-A")
    assert r.status_code == 422
    # Without a key every POST creates; a bad key is refused before anything runs.
    a, b = node.order(m).json(), node.order(m).json()
    assert a["id"] != b["id"]
    r = node.order(m, idem="has space")
    assert r.status_code == 400 and code(r) == "invalid_idempotency_key"
    r = node.order(m, idem="x" * 256)
    assert r.status_code == 400
    assert len(node.orders()["data"]) == 3
    # Refusals are not stored: the same key with a fixed body then runs.
    r = node.order(m, amount="0", idem="order-B")
    assert r.status_code == 400
    r = node.order(m, idem="order-B")
    assert r.status_code == 200
    # After a restart (and after kill -9) the stored responses are replayed.
    node.stop()
    node.start()
    assert node.order(m, idem="order-A").json() == first.json()
    assert node.order(m, amount="1", idem="order-A").status_code == 422
    node.kill9()
    node.start()
    assert node.order(m, idem="order-A").json() == first.json()
    assert len(node.orders()["data"]) == 4
    # Keys are per API key: another key's "order-A" is its own.
    other_key = new_key(node, "ops2", "payments:write")
    r = node.order(m, key=other_key, idem="order-A")
    assert r.status_code == 200 and r.json()["id"] != first.json()["id"]
    # Merchants and cancels replay too.
    body = {"name": "Tea", "settlement_account_id": m["settlement_account_id"],
            "ledger": LEDGER, "currency": "USD"}
    m1 = node.call("POST", "/v1/merchants", body, idem="merchant-1").json()
    assert node.call("POST", "/v1/merchants", body, idem="merchant-1").json() == m1
    c1 = node.call("POST", "/v1/orders/%s/cancel" % a["id"], {}, idem="cancel-1")
    c2 = node.call("POST", "/v1/orders/%s/cancel" % a["id"], {}, idem="cancel-1")
    assert c1.status_code == c2.status_code == 200 and c1.json() == c2.json()
    r = node.call("POST", "/v1/orders/%s/cancel" % a["id"], {})
    assert r.status_code == 409 and r.json()["error"]["status"] == "canceled"
    # Counters since the last start; the journal holds every event since the first.
    metrics = node.call("GET", "/metrics").text
    assert 'quipu_payments_idempotency_total{outcome="replay"} 3' in metrics
    assert 'quipu_payments_changes_total{type="order.created"} 1' in metrics
    assert 'quipu_payments_changes_total{type="order.canceled"} 1' in metrics
    assert "quipu_payments_events 8" in metrics  # 2 merchants, 5 orders, 1 cancel


def test_concurrent_retries_create_one_order(node):
    m = node.merchant()
    before = len(node.orders()["data"])
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        rs = list(pool.map(lambda _: node.order(m, idem="same-key"), range(16)))
    ok = [r for r in rs if r.status_code == 200]
    busy = [r for r in rs if r.status_code == 409]
    assert len(ok) + len(busy) == 16 and ok
    assert len({r.json()["id"] for r in ok}) == 1
    assert all(code(r) == "idempotency_key_in_flight" for r in busy)
    assert len(node.orders()["data"]) == before + 1


def test_list_pagination(node):
    m, m2 = node.merchant(), node.merchant(name="Bakery")
    made = [node.order(m if i % 3 else m2).json() for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        page = node.orders("?limit=3" + ("&cursor=" + cursor if cursor else ""))
        assert len(page["data"]) <= 3
        seen += [o["id"] for o in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [o["id"] for o in made] and pages == 3  # oldest first, no repeats
    assert [o["id"] for o in node.orders("?merchant_id=" + m2["id"])["data"]] == \
        [made[0]["id"], made[3]["id"], made[6]["id"]]
    assert node.orders("?limit=50")["next_cursor"] is None
    node.call("POST", "/v1/orders/%s/cancel" % made[1]["id"], {})
    assert [o["id"] for o in node.orders("?status=canceled")["data"]] == [made[1]["id"]]
    assert len(node.orders("?status=open")["data"]) == 6
    now = int(time.time())
    assert len(node.orders("?created_from=%d" % (now - 600))["data"]) == 7
    assert node.orders("?created_from=%d" % (now + 600))["data"] == []
    assert node.orders("?created_to=%d" % (now - 600))["data"] == []
    for bad in ("?limit=0", "?limit=501", "?limit=x", "?cursor=abc", "?status=paidx",
                "?created_from=-1", "?merchant_id=12", "?sort=asc",
                "?created_from=100&created_to=100"):
        r = node.call("GET", "/v1/orders" + bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"]["path"] in bad, (bad, r.text)
    r = node.call("GET", "/v1/orders?=x")  # an empty name (found by fuzz_payments_list_query)
    assert r.status_code == 400 and r.json()["error"]["path"] == "query"


def test_expiry_and_cancel(node):
    m = node.merchant()
    short = node.order(m, expires_in_s=1).json()
    assert short["status"] == "open"
    time.sleep(2.1)
    assert node.call("GET", "/v1/orders/" + short["id"]).json()["status"] == "expired"
    r = node.call("POST", "/v1/orders/%s/cancel" % short["id"], {})
    assert r.status_code == 409 and r.json()["error"]["status"] == "expired"
    assert code(r) == "order_not_open"
    r = node.call("GET", "/v1/orders/%s/qr.svg" % short["id"])
    assert r.status_code == 409 and r.json()["error"]["status"] == "expired"
    o = node.order(m).json()
    r = node.call("POST", "/v1/orders/%s/cancel" % o["id"], {})
    assert r.status_code == 200 and r.json()["status"] == "canceled" and "canceled_at" in r.json()
    assert node.call("GET", "/v1/orders/" + o["id"]).json()["status"] == "canceled"
    r = node.call("POST", "/v1/orders/%s/cancel" % o["id"], {})
    assert r.status_code == 409 and r.json()["error"]["status"] == "canceled"
    r = node.call("POST", "/v1/orders/%s/cancel" % ("0" * 32), {})
    assert r.status_code == 404 and code(r) == "order_not_found"
    r = node.order(m, expires_in_s=86401)
    assert r.status_code == 400 and r.json()["error"]["path"] == "expires_in_s"
    # Concurrent cancels of one order: exactly one wins, the others see it canceled.
    o = node.order(m).json()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        rs = list(pool.map(lambda _: node.call("POST", "/v1/orders/%s/cancel" % o["id"], {}),
                           range(8)))
    assert sorted(r.status_code for r in rs) == [200] + [409] * 7
    metrics = node.call("GET", "/metrics").text
    assert 'quipu_payments_changes_total{type="order.canceled"} 2' in metrics


def test_merchant_keys(node):
    m, other = node.merchant(), node.merchant(name="Other")
    r = node.call("POST", "/v1/merchants/%s/keys" % m["id"], {}, idem="key-1")
    assert r.status_code == 200, r.text
    k = r.json()
    assert k["scopes"] == "payments:merchant" and k["ledgers"] == [LEDGER]
    assert k["merchant_id"] == m["id"] and k["key"].startswith("qpk_")
    replay = node.call("POST", "/v1/merchants/%s/keys" % m["id"], {}, idem="key-1").json()
    assert replay["id"] == k["id"] and "key" not in replay  # the secret is shown once
    mk = wait_key(node, k["key"])
    mine = node.order(m, key=mk)
    assert mine.status_code == 200, mine.text
    theirs = node.order(other).json()
    r = node.order(other, key=mk)
    assert r.status_code == 404 and code(r) == "merchant_not_found"
    assert node.call("GET", "/v1/orders/" + theirs["id"], key=mk).status_code == 404
    assert node.call("GET", "/v1/orders/" + mine.json()["id"], key=mk).status_code == 200
    assert [o["id"] for o in node.orders()["data"]] == [mine.json()["id"], theirs["id"]]
    listed = node.call("GET", "/v1/orders", key=mk).json()["data"]
    assert [o["id"] for o in listed] == [mine.json()["id"]]
    assert node.call("GET", "/v1/merchants/" + m["id"], key=mk).status_code == 200
    assert node.call("GET", "/v1/merchants/" + other["id"], key=mk).status_code == 404
    r = node.call("POST", "/v1/merchants", {"name": "X"}, key=mk)
    assert r.status_code == 403
    r = node.call("POST", "/v1/orders/%s/cancel" % theirs["id"], {}, key=mk)
    assert r.status_code == 404
    assert node.call("POST", "/v1/orders/%s/cancel" % mine.json()["id"], {},
                     key=mk).status_code == 200
    # A payments:merchant key made by hand belongs to no merchant and reaches nothing.
    loose = new_key(node, "loose", "payments:merchant")
    r = node.call("GET", "/v1/orders", key=loose)
    assert r.status_code == 403 and code(r) == "merchant_key_unknown"
    ledger_only = new_key(node, "ledger-only", "ledger:read")
    assert node.call("GET", "/v1/orders", key=ledger_only).status_code == 403
    reader = new_key(node, "reader", "payments:read")
    assert node.call("GET", "/v1/orders", key=reader).status_code == 200
    assert node.order(m, key=reader).status_code == 403


def test_bad_inputs_change_nothing(node):
    m = node.merchant()
    account = m["settlement_account_id"]
    base = {"name": "Shop", "settlement_account_id": account, "ledger": LEDGER,
            "currency": "USD"}
    eur = new_id()
    node.accounts(eur, ledger=978)
    bad_merchants = [
        ({"name": None}, "name"), ({"name": "x" * 26}, "name"), ({"name": "Caf\u00e9"}, "name"),
        ({"settlement_account_id": "0"}, "settlement_account_id"),
        ({"settlement_account_id": "abc"}, "settlement_account_id"),
        ({"settlement_account_id": str(new_id())}, "settlement_account_id"),
        ({"ledger": 978}, "ledger"), ({"settlement_account_id": str(eur)}, "ledger"),
        ({"ledger": 0}, "ledger"), ({"currency": "US"}, "currency"),
        ({"currency": "XXX"}, "currency"), ({"mcc": "58"}, "mcc"), ({"country": "Peru"}, "country"),
        ({"city": "x" * 16}, "city"), ({"colour": "red"}, "colour"),
    ]
    for change, path in bad_merchants:
        body = dict(base, **change)
        if change.get("name", "") is None:
            del body["name"]
        r = node.call("POST", "/v1/merchants", body)
        assert r.status_code == 400, (change, r.text)
        assert r.json()["error"]["path"] == path, (change, r.text)
    r = node.call("POST", "/v1/merchants", raw="{not json")
    assert r.status_code == 400 and code(r) == "invalid_json"
    bad_orders = [
        ({"amount": "0"}, "amount"), ({"amount": "-5"}, "amount"),
        ({"amount": "10000000000000"}, "amount"), ({"ledger": 1}, "ledger"),
        ({"currency": "EUR"}, "currency"), ({"reference": "x" * 26}, "reference"),
        ({"reference": "r\u00e9f"}, "reference"), ({"description": ""}, "description"),
        ({"expires_in_s": 0}, "expires_in_s"), ({"expires_in_s": "60"}, "expires_in_s"),
        ({"merchant_id": "f" * 32}, "merchant_id"), ({"merchant_id": "nope"}, "merchant_id"),
        ({"tip": 1}, "tip"),
    ]
    for change, path in bad_orders:
        r = node.order(m, **change)
        assert r.status_code in (400, 404), (change, r.text)
        assert r.json()["error"]["path"] == path, (change, r.text)
    r = node.call("POST", "/v1/orders", {"amount": "1"})
    assert r.status_code == 400 and code(r) == "missing_field"
    assert node.orders()["data"] == []
    assert node.call("GET", "/v1/merchants/" + "0" * 32).status_code == 404
    assert node.call("GET", "/v1/merchants/xyz").status_code == 404
    assert node.call("GET", "/v1/orders/xyz").status_code == 404
    # The largest amount that fits tag 54 (13 characters with 2 decimals).
    r = node.order(m, amount="9999999999999"[:12])
    assert r.status_code == 200 and tlv(r.json()["qr"])["54"] == "9999999999.99"


def test_node_refuses_bad_settings(tmp_dir):
    home = os.path.join(tmp_dir, "bad")
    os.makedirs(home)
    for settings, want in (({"gui": ""}, "modules.payments.gui"),
                           ({"country": "pe"}, "modules.payments.country"),
                           ({"colour": 1}, "modules.payments.colour"),
                           ({"order_expires_in_s_default": 999999}, "order_expires_in_s_default")):
        with open(os.path.join(home, "node.json"), "w") as f:
            json.dump({"listen": "127.0.0.1:0", "modules": {"ledger": {}, "payments": settings}}, f)
        r = subprocess.run([QUIPU, "node", "--home", home], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode != 0 and want in r.stdout + r.stderr, (settings, r.stderr)
    with open(os.path.join(home, "node.json"), "w") as f:
        json.dump({"listen": "127.0.0.1:0", "modules": {"payments": {}}}, f)
    r = subprocess.run([QUIPU, "node", "--home", home], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "ledger" in r.stdout + r.stderr


def test_custom_gui_and_defaults(tmp_dir):
    n = PayNode(os.path.join(tmp_dir, "home"), {"gui": "pe.example.pay", "country": "PE",
                                               "city": "Cusco", "mcc": "5411"}).start()
    try:
        account = new_id()
        n.accounts(account)
        m = n.call("POST", "/v1/merchants", {"name": "Mercado", "settlement_account_id":
                                             str(account), "ledger": LEDGER,
                                             "currency": "PEN"}).json()
        assert (m["city"], m["country"], m["mcc"]) == ("Cusco", "PE", "5411")
        o = n.call("POST", "/v1/orders", {"merchant_id": m["id"], "amount": 250, "ledger": LEDGER,
                                          "currency": "PEN"}).json()
        tags = tlv(o["qr"])
        assert tlv(tags["26"])["00"] == "pe.example.pay" and tags["53"] == "604"
        assert tags["54"] == "2.50" and "62" not in tags
        parsed = n.call("POST", "/v1/qr/parse", {"payload": o["qr"]}).json()
        assert parsed["order_id"] == o["id"]
    finally:
        n.stop()
